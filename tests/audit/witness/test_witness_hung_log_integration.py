"""A log that accepts the witness's connections and then never answers, or answers its head one byte at a
time, each just inside the read timeout: `mlobs serve audit-witness` ends every round as unreachable
within its timeout and goes on polling, and its own endpoints answer meanwhile. `mlobs audit verify
--witness URL` against a witness that does the same ends with the reason."""

from __future__ import annotations

import argparse
import time

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client.parser import text_string_to_metric_families
from support.hostile_exporter import DRIP_HEAD, SILENT, HostileExporter

from audit.witness.test_witness_integration import witness_process
from mlobs.audit.cli import register
from mlobs.audit.keys.signing import public_key_pem
from mlobs.audit.witness import catalog

pytestmark = pytest.mark.integration


def unreachable_rounds(url: str) -> float:
    response = httpx.get(f"{url}/metrics", timeout=1)
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == f"{catalog.WITNESS_REFUSALS.name}_total" and \
                    sample.labels.get(catalog.REASON) == catalog.UNREACHABLE:
                return sample.value
    return 0.0


def wait_answering(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/livez", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the witness never answered"
        time.sleep(0.1)


def test_a_witness_polling_a_log_that_never_answers_or_drips_its_head_ends_each_round_and_answers_meanwhile(
        tmp_path):
    key = tmp_path / "log.pub.pem"
    key.write_bytes(public_key_pem(Ed25519PrivateKey.generate().public_key()))
    with HostileExporter(DRIP_HEAD, interval=0.05) as log, \
            witness_process(log.url, key, tmp_path / "w", timeout_s="0.3", stale_after_s="2") as url:
        wait_answering(url)
        first = unreachable_rounds(url)
        for mode in (DRIP_HEAD, SILENT):
            log.mode = mode
            seen = unreachable_rounds(url)
            deadline = time.monotonic() + 5
            while unreachable_rounds(url) < seen + 2:  # rounds keep ending: none is held by the log
                assert time.monotonic() < deadline, f"the witness's rounds stopped ending ({mode})"
                started = time.monotonic()
                assert httpx.get(f"{url}/livez", timeout=1).status_code == 200
                assert time.monotonic() - started < 1
                time.sleep(0.1)
        assert unreachable_rounds(url) >= first + 4
        deadline = time.monotonic() + 5
        while httpx.get(f"{url}/healthz", timeout=1).status_code != 503:  # stale: no round reached the log
            assert time.monotonic() < deadline
            time.sleep(0.1)


@pytest.mark.parametrize("mode", [SILENT, DRIP_HEAD])
def test_verify_with_a_witness_that_hangs_or_drips_ends_within_the_witness_timeout_saying_so(
        mode, tmp_path, capsys):
    key = tmp_path / "log.pub.pem"
    key.write_bytes(public_key_pem(Ed25519PrivateKey.generate().public_key()))
    parser = argparse.ArgumentParser(prog="mlobs")
    register(parser.add_subparsers(dest="command", required=True))
    with HostileExporter(mode, interval=0.05) as witness:
        args = parser.parse_args(["audit", "verify", str(tmp_path), "--public-key", str(key),
                                  "--witness", witness.url, "--witness-timeout", "0.5"])
        started = time.monotonic()
        assert args.func(args) == 1
        assert time.monotonic() - started < 3
    assert "cannot read the witness" in capsys.readouterr().err
