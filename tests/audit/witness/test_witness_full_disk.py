"""A witness whose own volume fills up: the round is refused and counted, no partial line is left to
stop the next start, the polling goes on, and it cosigns again once there is room. A real filesystem
of a few hundred kilobytes (tmpfs)."""

from __future__ import annotations


import pytest
from support.small_volume import fill, small_volume
from audit.factories import decision
from audit.witness_helpers import log_app, witness_for
from prometheus_client import generate_latest

from mlobs.audit.witness import catalog
from mlobs.audit.witness.store import COSIGNED, read_notes


@pytest.fixture
def volume(tmp_path):
    with small_volume(tmp_path / "volume", "256k") as mount:
        yield mount


def grow(log, n: int) -> None:
    for i in range(n):
        log.append(decision(i))
    log.checkpoint()


def test_a_full_witness_volume_refuses_the_round_leaves_no_partial_line_and_the_witness_recovers(
        log, store_url, audit_settings, volume):
    key = audit_settings.keys_dir / "checkpoint_signing.pub.pem"
    witness = witness_for(log_app(store_url), key, volume / "w")
    grow(log, 5)
    assert witness.poll() is not None

    fill(volume, 0)  # the last page of cosigned.jsonl still takes a few lines, then a line is cut short
    kept = 1
    for _ in range(30):
        grow(log, 1)
        if witness.poll() is None:
            break
        kept += 1
    assert "No space left" in witness.last_error
    cosigned = (volume / "w" / COSIGNED).read_bytes()
    assert cosigned.endswith(b"\n") and len(read_notes(volume / "w")) == kept  # whole lines only
    refused = generate_latest(witness.registry).decode()
    assert f'mlobs_audit_witness_refusals_total{{{catalog.REASON}="{catalog.UNKEPT}"}} 1.0' in refused

    (volume / "filler").unlink()
    grown = witness.poll()
    assert grown is not None and grown.size == witness.head.size
    assert len(read_notes(volume / "w")) == kept + 1
    restarted = witness_for(log_app(store_url), key, volume / "w")  # the store still opens
    assert restarted.head.size == grown.size


def test_a_key_rotation_met_on_a_full_witness_volume_is_followed_and_kept_whole_once_there_is_room(
        log, store_url, audit_settings, volume, tmp_path):
    from audit.witness_helpers import pinned_key
    from mlobs.audit.keys.key_rotation import rotate
    from mlobs.audit.witness.store import ROTATIONS

    pinned = pinned_key(audit_settings, tmp_path)
    witness = witness_for(log_app(store_url), pinned, volume / "w")
    grow(log, 5)
    assert witness.poll() is not None
    rotate(log, "ops")
    grow(log, 5)
    fill(volume, 0)
    assert witness.poll() is None and "No space left" in witness.last_error
    evidence = volume / "w" / ROTATIONS
    assert not evidence.exists() or evidence.read_bytes() == b""  # not a byte of it kept
    (volume / "filler").unlink()
    assert witness.poll() is not None, witness.last_error
    assert len((volume / "w" / ROTATIONS).read_bytes().splitlines()) == 1
    restarted = witness_for(log_app(store_url), pinned, volume / "w")
    assert restarted.head.size == witness.head.size
