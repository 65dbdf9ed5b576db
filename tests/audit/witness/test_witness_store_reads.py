"""How the witness's store is read by its service and by verify: the newest checkpoint from the end
of the file, a page of checkpoints from a size on; an edited file is a message, never a wrong answer."""

from __future__ import annotations

import orjson
import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from audit.witness_helpers import TOKEN, witnessed_at
from mlobs.audit.witness.service import MAX_PAGE, create_app
from mlobs.audit.witness.settings import WitnessSettings
from mlobs.audit.witness.store import COSIGNED, MAX_LINE, read_latest, read_notes, read_notes_from
from mlobs.local.ports import free_port
from mlobs.settings import Settings


def _write(directory, lines: list[bytes]) -> None:
    directory.mkdir(exist_ok=True)
    (directory / COSIGNED).write_bytes(b"".join(lines))


def _line(size: int, pad: int = 0) -> bytes:
    return orjson.dumps({"size": size, "note": f"note {size}" + "x" * pad}) + b"\n"


@pytest.mark.parametrize("pad", [0, 5000, 20000], ids=["short lines", "lines over one block", "lines of 20 KB"])
def test_the_newest_checkpoint_read_from_the_end_is_the_last_line_whatever_its_length(tmp_path, pad):
    _write(tmp_path, [_line(size, pad) for size in range(1, 40)] + [b"\n", b"  \n"])
    assert read_latest(tmp_path) == read_notes(tmp_path)[-1] == "note 39" + "x" * pad


def test_a_store_with_one_line_or_none_reads_as_that_line_or_nothing(tmp_path):
    assert read_latest(tmp_path) is None
    _write(tmp_path, [])
    assert read_latest(tmp_path) is None
    _write(tmp_path, [_line(7).rstrip(b"\n")])
    assert read_latest(tmp_path) == "note 7"


@pytest.mark.parametrize("last", [b"garbage\n", b'{"note": "no size"}\n', b'{"size": 3, "note": 5}\n',
                                  b"x" * (MAX_LINE + 10)], ids=["not JSON", "no size", "note not text", "too long"])
def test_an_edited_last_line_is_a_message_naming_the_file(tmp_path, last):
    _write(tmp_path, [_line(1), _line(2), last])
    with pytest.raises(ValueError, match=COSIGNED):
        read_latest(tmp_path)


def test_a_page_starts_at_the_first_tree_of_the_size_asked_and_holds_at_most_the_limit(tmp_path):
    _write(tmp_path, [_line(size) for size in (3, 6, 9, 12)])
    assert read_notes_from(tmp_path, 5, 2) == ["note 6", "note 9"]
    assert read_notes_from(tmp_path, 13, 5) == []
    assert read_notes_from(tmp_path, 0, 10) == read_notes(tmp_path)


def test_the_service_pages_its_history_within_a_bound_and_still_serves_all_to_a_client_that_does_not_page(
        tmp_path, audit_settings, log, store_url):
    witnessed_at(log, store_url, audit_settings, tmp_path / "w", sizes=(10, 20, 30))
    settings = Settings(audit_witness=WitnessSettings(
        source_url=f"http://127.0.0.1:{free_port()}", token=SecretStr(TOKEN),
        log_public_key=audit_settings.keys_dir / "checkpoint_signing.pub.pem", dir=tmp_path / "w"))
    client = TestClient(create_app(settings))  # no lifespan: it does not poll
    every = client.get("/checkpoints").json()["notes"]
    assert len(every) == 3
    assert client.get("/checkpoints", params={"from": 11, "limit": 1}).json() == {"notes": every[1:2]}
    assert client.get("/checkpoints", params={"from": 11}).json() == {"notes": every[1:]}
    assert client.get("/checkpoints", params={"from": 31, "limit": 5}).json() == {"notes": []}
    assert client.get("/checkpoint").text == every[-1]
    for params in ({"limit": MAX_PAGE + 1}, {"limit": 0}, {"from": -1}, {"from": 2**63}):
        assert client.get("/checkpoints", params=params).status_code == 422
