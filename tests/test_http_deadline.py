"""A deadline client against servers that hang or drip their answers a byte at a time, each byte well inside
the read timeout: the request ends at the deadline, head or body; outside a deadline the client waits for
a slow answer as long as it keeps coming."""

from __future__ import annotations

import time

import httpx
import pytest
from support.hostile_exporter import DRIP_BODY, DRIP_HEAD, SILENT, HostileExporter

from mlobs import http_deadline

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("mode", [SILENT, DRIP_HEAD, DRIP_BODY])
def test_a_request_within_a_deadline_ends_at_it_however_the_server_dribbles(mode):
    with HostileExporter(mode, interval=0.02) as server, http_deadline.client(timeout=5) as client:
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException), http_deadline.within(0.3):
            client.get(server.url).read()
        assert 0.25 < time.monotonic() - started < 1.5


def test_outside_a_deadline_a_dripping_answer_is_read_as_long_as_it_keeps_coming():
    with HostileExporter(DRIP_BODY, interval=0.02) as server, http_deadline.client(timeout=0.5) as client:
        with client.stream("GET", server.url) as response:
            started, read = time.monotonic(), 0
            for chunk in response.iter_bytes():
                read += len(chunk)
                if time.monotonic() - started > 1.0:  # twice the read timeout, and still reading
                    break
    assert read > 10
