"""`mlobs acceptance` passes against the native stack (`make local`), as CI runs it."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def where(lines: list[str]) -> dict[str, str]:
    """The URLs `python -m mlobs.local` prints, by name."""
    out = {}
    for line in lines:
        parts = line.split()
        if line.startswith("  ") and len(parts) >= 2 and parts[1].startswith("http"):
            out[parts[0]] = parts[1]
    return out


def test_the_acceptance_check_passes_against_the_native_stack(tmp_path, artifacts_dir):
    local = subprocess.Popen(
        [sys.executable, "-m", "mlobs.local", "--ports-base", "0", "--interval", "1s", "--workdir", str(tmp_path),
         "--artifacts-dir", str(artifacts_dir), "--rate", "2", "--drift-window", "50", "--drift-page-window", "15s",
         "--alert-wait", "1s", "--scenario-delay", "86400", "--duration", "600"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        for line in local.stdout:
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        urls = where(lines)
        assert {"Prometheus", "Alertmanager", "pages", "vision"} <= urls.keys(), "".join(lines)
        targets = [f"--target={name}={urls[name]}" for name in ("sentiment", "vision", "credit")]
        acceptance = subprocess.run(
            [sys.executable, "-m", "mlobs.cli", "acceptance", "--prometheus", urls["Prometheus"],
             "--alertmanager", urls["Alertmanager"], "--oncall", urls["pages"].removesuffix("/pages"), *targets,
             "--no-traces", "--rate", "20", "--normal-seconds", "10", "--wait", "60", "--page-within", "150"],
            capture_output=True, text=True, timeout=400)
        report = acceptance.stdout + acceptance.stderr
        print(report)  # the per-check lines, with the time from the shift to the page
        assert acceptance.returncode == 0, report
        assert "ok   drift page at the on-call receiver" in report and "paged" in report
        assert "ok   prometheus series" in report
        assert "skip exemplar with trace id: the stack exports no traces" in report
        local.send_signal(signal.SIGTERM)
        local.communicate(timeout=60)
    finally:
        if local.poll() is None:
            # SIGTERM first even when a check failed: the stack stops its children in order; a SIGKILL
            # would leave them (each in its own session) running.
            local.send_signal(signal.SIGTERM)
            try:
                local.wait(timeout=60)
            except subprocess.TimeoutExpired:
                local.kill()
                local.wait()
