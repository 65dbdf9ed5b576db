"""Two witnesses started on one directory by mistake (a second replica on the same volume, an old process
left running), or a line appended behind a running witness's back: the history stays strictly increasing,
so it still starts and pages; a round that would break that is refused as unkept and counted."""

from __future__ import annotations

import orjson
import pytest
from prometheus_client import generate_latest

from audit.witness_helpers import grow, log_app, pinned_key, witness_for
from mlobs.audit.witness import catalog
from mlobs.audit.witness.store import COSIGNED, read_notes_from



def _sizes(directory) -> list[int]:
    return [orjson.loads(line)["size"] for line in (directory / COSIGNED).read_bytes().splitlines()]


def test_of_two_witnesses_on_one_directory_only_the_one_that_wrote_the_last_line_appends(
        log, store_url, audit_settings, tmp_path):
    key = audit_settings.keys_dir / "checkpoint_signing.pub.pem"
    first, second = (witness_for(log_app(store_url), key, tmp_path / "w") for _ in range(2))
    grow(log, 0, 10)
    assert first.poll().size == 10
    unkept = f'{catalog.REASON}="{catalog.UNKEPT}"}} 1.0'
    for size in (20, 30):
        grow(log, size - 10, size)
        assert second.poll() is None and "another witness writes this directory" in second.last_error
        assert first.poll().size == size, first.last_error
    assert unkept.replace("1.0", "2.0") in generate_latest(second.registry).decode()
    assert _sizes(tmp_path / "w") == [10, 20, 30]
    third = witness_for(log_app(store_url), key, tmp_path / "w")  # started later: resumes from 30
    grow(log, 30, 40)
    assert third.poll().size == 40 and first.poll() is None  # whoever appends first; the other is refused
    assert _sizes(tmp_path / "w") == [10, 20, 30, 40]
    assert witness_for(log_app(store_url), key, tmp_path / "w").head.size == 40
    assert [n.split("\n")[1] for n in read_notes_from(tmp_path / "w", 11, 5)] == ["20", "30", "40"]


@pytest.mark.parametrize("line", ["an older checkpoint", "a line that is no checkpoint"])
def test_a_line_appended_behind_a_running_witness_refuses_its_rounds_as_unkept_and_stays_last(
        log, store_url, audit_settings, tmp_path, line):
    key = audit_settings.keys_dir / "checkpoint_signing.pub.pem"
    witness = witness_for(log_app(store_url), key, tmp_path / "w")
    for size in (10, 20):
        grow(log, size - 10, size)
        assert witness.poll().size == size
    appended = (tmp_path / "w" / COSIGNED).read_bytes().splitlines()[0] if line == "an older checkpoint" \
        else b"not a checkpoint"
    with open(tmp_path / "w" / COSIGNED, "ab") as handle:
        handle.write(appended + b"\n")
    grow(log, 20, 30)
    assert witness.poll() is None and COSIGNED in witness.last_error
    unkept = f'{catalog.REASON}="{catalog.UNKEPT}"}} 1.0'
    assert unkept in generate_latest(witness.registry).decode()
    assert (tmp_path / "w" / COSIGNED).read_bytes().endswith(appended + b"\n")


def test_two_witnesses_on_one_directory_across_a_key_rotation_keep_its_evidence_once(
        log, store_url, audit_settings, tmp_path):
    from mlobs.audit.keys.key_rotation import rotate
    from mlobs.audit.witness.store import ROTATIONS

    key = pinned_key(audit_settings, tmp_path)
    first, second = (witness_for(log_app(store_url), key, tmp_path / "w") for _ in range(2))
    grow(log, 0, 10)
    assert first.poll().size == 10
    rotate(log, "ops")
    grow(log, 10, 20)
    assert first.poll().size == 21, first.last_error
    assert second.poll() is None and "another witness writes this directory" in second.last_error
    assert len((tmp_path / "w" / ROTATIONS).read_bytes().splitlines()) == 1
    assert witness_for(log_app(store_url), key, tmp_path / "w").head.size == 21
