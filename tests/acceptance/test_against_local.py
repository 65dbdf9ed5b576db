"""`mlobs acceptance` passes against the native stack (`make local`), as CI runs it; beside it, a second
native stack with `make local`'s own shift pages by itself (two stacks at once: each mostly waits)."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from support.native_stack import NativeStack, pages_by_itself

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_acceptance_check_passes_against_the_native_stack_and_another_pages_by_itself(
        tmp_path, artifacts_dir, vision_model, sentiment_model, credit_model):
    # Every model is trained (by the fixtures) before the stacks start, so they never train at once.
    with ThreadPoolExecutor(1) as pool:
        paged = pool.submit(pages_by_itself, tmp_path / "paging", artifacts_dir)
        passes_acceptance(tmp_path / "acceptance", artifacts_dir)
        paged.result()


def passes_acceptance(workdir, artifacts_dir) -> None:
    with NativeStack(workdir, artifacts_dir, "--rate", "2", "--drift-window", "50", "--drift-page-window", "15s",
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
