"""Two witnesses started on one directory by mistake (a second replica on the same volume, an old process
left running), or a line appended behind a running witness's back: the history stays strictly increasing,
so it still starts and pages; a round that would break that is refused as unkept and counted."""

from __future__ import annotations

import orjson
from prometheus_client import generate_latest

from audit.factories import decision
from audit.witness_helpers import log_app, witness_for
from mlobs.audit.witness import catalog
from mlobs.audit.witness.store import COSIGNED, read_notes_from


def _grow(log, start: int, end: int) -> None:
    for i in range(start, end):
        log.append(decision(i))
    log.checkpoint()


def _sizes(directory) -> list[int]:
    return [orjson.loads(line)["size"] for line in (directory / COSIGNED).read_bytes().splitlines()]


def test_two_witnesses_on_one_directory_never_keep_a_tree_twice_or_out_of_order(
        log, store_url, audit_settings, tmp_path):
    key = audit_settings.keys_dir / "checkpoint_signing.pub.pem"
    first, second = (witness_for(log_app(store_url), key, tmp_path / "w") for _ in range(2))
    _grow(log, 0, 10)
    assert first.poll().size == 10
    _grow(log, 10, 20)
    assert second.poll().size == 20  # it knew of no tree: 20 follows 10 in the file all the same
    assert first.poll() is None and "20" in first.last_error  # 20 is kept already
    unkept = f'{catalog.REASON}="{catalog.UNKEPT}"}} 1.0'
    assert unkept in generate_latest(first.registry).decode()
    _grow(log, 20, 30)
    assert first.poll().size == 30, first.last_error
    assert second.poll() is None
    assert _sizes(tmp_path / "w") == [10, 20, 30]
    restarted = witness_for(log_app(store_url), key, tmp_path / "w")
    assert restarted.head.size == 30
    assert [n.split("\n")[1] for n in read_notes_from(tmp_path / "w", 11, 5)] == ["20", "30"]


def test_a_line_appended_behind_a_running_witness_that_is_no_checkpoint_refuses_its_rounds_as_unkept(
        log, store_url, audit_settings, tmp_path):
    key = audit_settings.keys_dir / "checkpoint_signing.pub.pem"
    witness = witness_for(log_app(store_url), key, tmp_path / "w")
    _grow(log, 0, 10)
    assert witness.poll().size == 10
    with open(tmp_path / "w" / COSIGNED, "ab") as handle:
        handle.write(b"not a checkpoint\n")
    _grow(log, 10, 20)
    assert witness.poll() is None and COSIGNED in witness.last_error
    unkept = f'{catalog.REASON}="{catalog.UNKEPT}"}} 1.0'
    assert unkept in generate_latest(witness.registry).decode()
    assert (tmp_path / "w" / COSIGNED).read_bytes().endswith(b"not a checkpoint\n")
