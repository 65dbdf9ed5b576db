"""`mlobs investigate` against a Prometheus that accepts and never answers, or answers a byte at a time
(each just inside the read timeout): it ends at its deadline saying why, instead of waiting for ever."""

from __future__ import annotations

import time

import pytest
from support.hostile_exporter import DRIP_BODY, DRIP_HEAD, SILENT, HostileExporter

from mlobs.cli import main
from mlobs.investigate.cli import EXIT_ERROR

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("mode", [SILENT, DRIP_HEAD, DRIP_BODY])
def test_investigate_against_a_prometheus_that_hangs_or_drips_ends_at_its_deadline_saying_so(mode, capsys):
    with HostileExporter(mode, interval=0.05) as prometheus:
        started = time.monotonic()
        assert main(["investigate", "--prometheus", prometheus.url, "--service", "credit",
                     "--deadline", "0.5"]) == EXIT_ERROR
        assert time.monotonic() - started < 2
    err = capsys.readouterr().err
    assert f"cannot reach Prometheus at {prometheus.url}" in err or "past its deadline" in err, err
