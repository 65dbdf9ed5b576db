"""`mlobs traffic` against a service that accepts and never answers, or answers a byte at a time (each just
inside the read timeout): detection ends within its timeout saying so, and a run counts each such request
as a timeout after --timeout, freeing its slot, and ends on time."""

from __future__ import annotations

import time

import pytest
from support.hostile_exporter import DRIP_BODY, DRIP_HEAD, SILENT, HostileExporter

from mlobs.cli import main
from mlobs.traffic.cli import EXIT_NO_SUCCESS, EXIT_USAGE

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("mode", [SILENT, DRIP_HEAD, DRIP_BODY])
def test_detecting_a_service_that_hangs_or_drips_ends_within_the_timeout_saying_so(mode, capsys):
    with HostileExporter(mode, interval=0.05) as service:
        started = time.monotonic()
        assert main(["traffic", "--target", service.url, "--timeout", "0.3", "--duration", "1", "--rate", "1",
                     "--quiet"]) == EXIT_USAGE
        assert time.monotonic() - started < 2
    assert f"cannot reach {service.url}/healthz" in capsys.readouterr().err


def test_a_run_against_a_service_dripping_its_answers_counts_timeouts_and_ends_on_time(capsys):
    with HostileExporter(DRIP_BODY, interval=0.05) as service:
        started = time.monotonic()
        assert main(["traffic", "--target", service.url, "--service", "credit", "--timeout", "0.3",
                     "--duration", "1", "--rate", "10", "--concurrency", "2", "--arrivals", "fixed",
                     "--feedback-rate", "0", "--quiet"]) == EXIT_NO_SUCCESS
        assert time.monotonic() - started < 1 + 0.3 + 1 + 1
    out = capsys.readouterr().out
    errors = next(line for line in out.splitlines() if line.startswith("errors:"))
    assert "timeout" in errors and "cancelled" not in errors, out
