"""`mlobs acceptance` passes against the native stack (`make local`), as CI runs it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from support.native_stack import NativeStack

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_acceptance_check_passes_against_the_native_stack(tmp_path, artifacts_dir):
    with NativeStack(tmp_path, artifacts_dir, "--rate", "2", "--drift-window", "50", "--drift-page-window", "15s",
                     "--alert-wait", "1s", "--scenario-delay", "86400") as local:
        urls = local.urls
        assert {"Prometheus", "Alertmanager", "pages", "vision"} <= urls.keys(), local.output
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
