"""Acceptance checks against a Prometheus that accepts and never answers, or answers a byte at a time
(each just inside the read timeout): a check fails at its deadline naming the timeout, instead of
waiting for ever."""

from __future__ import annotations

import time

import pytest
from support.hostile_exporter import DRIP_BODY, DRIP_HEAD, SILENT, HostileExporter

from mlobs.acceptance import checks

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("mode", [SILENT, DRIP_HEAD, DRIP_BODY])
def test_a_check_against_a_prometheus_that_hangs_or_drips_fails_within_its_timeout_saying_so(mode):
    with HostileExporter(mode, interval=0.05) as prometheus:
        backends = checks.Backends(prometheus.url, prometheus.url, prometheus.url, timeout=0.3)
        started = time.monotonic()
        result = checks.series(backends, ["credit"], deadline_s=0.1)
        assert time.monotonic() - started < 2
    assert not result.ok
    assert "Timeout" in result.detail, result.detail
