"""How the witness's store is read by its service and by verify: the newest checkpoint from the end
of the file, a page of checkpoints from a size on; an edited file is a message, never a wrong answer."""

from __future__ import annotations

import orjson
import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from audit.witness_helpers import TOKEN, signed_store, witnessed_at
from mlobs.audit.witness.service import MAX_PAGE, create_app
from mlobs.audit.witness.settings import WitnessSettings
from mlobs.audit.witness.store import COSIGNED, MAX_LINE, read_head, read_latest, read_notes, read_notes_from
from mlobs.local.ports import free_port
from mlobs.settings import Settings


def _write(directory, lines: list[bytes]) -> None:
    directory.mkdir(exist_ok=True)
    (directory / COSIGNED).write_bytes(b"".join(lines))


def _line(size: int, pad: int = 0) -> bytes:
    """A kept line: its note's second line states its size, as a checkpoint's does."""
    return orjson.dumps({"size": size, "note": f"note\n{size}\n" + "x" * pad}) + b"\n"


@pytest.mark.parametrize("pad", [0, 5000, 20000], ids=["short lines", "lines over one block", "lines of 20 KB"])
def test_the_newest_checkpoint_read_from_the_end_is_the_last_line_whatever_its_length(tmp_path, pad):
    _write(tmp_path, [_line(size, pad) for size in range(1, 40)] + [b"\n", b"  \n"])
    assert read_latest(tmp_path) == read_notes(tmp_path)[-1] == "note\n39\n" + "x" * pad


def test_a_store_with_one_line_or_none_reads_as_that_line_or_nothing(tmp_path):
    assert read_latest(tmp_path) is None
    _write(tmp_path, [])
    assert read_latest(tmp_path) is None
    _write(tmp_path, [_line(7)])
    assert read_latest(tmp_path) == "note\n7\n"
    _write(tmp_path, [_line(7).rstrip(b"\n")])  # its newline not written yet: no line yet
    assert read_latest(tmp_path) is None and read_head(tmp_path) is None and read_notes_from(tmp_path, 0, 5) == []


@pytest.mark.parametrize("last", [b"garbage\n", b'{"note": "no size"}\n', b'{"size": 3, "note": 5}\n',
                                  b"x" * (MAX_LINE + 10)], ids=["not JSON", "no size", "note not text", "too long"])
def test_an_edited_last_line_is_a_message_naming_the_file(tmp_path, last):
    _write(tmp_path, [_line(1), _line(2), last])
    with pytest.raises(ValueError, match=COSIGNED):
        read_latest(tmp_path)


def test_a_page_starts_at_the_first_tree_of_the_size_asked_and_holds_at_most_the_limit(tmp_path):
    _write(tmp_path, [_line(size) for size in (3, 6, 9, 12)])
    assert read_notes_from(tmp_path, 5, 2) == ["note\n6\n", "note\n9\n"]
    assert read_notes_from(tmp_path, 13, 5) == []
    assert read_notes_from(tmp_path, 0, 10) == read_notes(tmp_path)


def test_the_service_pages_its_history_and_names_the_next_page_while_more_follow(
        tmp_path, audit_settings, log, store_url):
    witnessed_at(log, store_url, audit_settings, tmp_path / "w", sizes=(10, 20, 30))
    key = audit_settings.keys_dir / "checkpoint_signing.pub.pem"
    client = TestClient(create_app(_settings(tmp_path / "w", key)))  # no lifespan: it does not poll
    every = read_notes(tmp_path / "w")
    assert client.get("/checkpoints").json() == {"notes": every}  # one page holds it: no next
    assert client.get("/checkpoints", params={"from": 11, "limit": 1}).json() == {"notes": every[1:2], "next": 21}
    assert client.get("/checkpoints", params={"from": 21, "limit": 1}).json() == {"notes": every[2:]}
    assert client.get("/checkpoints", params={"from": 11}).json() == {"notes": every[1:]}
    assert client.get("/checkpoints", params={"from": 31, "limit": 5}).json() == {"notes": []}
    assert client.get("/checkpoint").text == every[-1]
    for params in ({"limit": MAX_PAGE + 1}, {"limit": 0}, {"from": -1}, {"from": 2**63}):
        assert client.get("/checkpoints", params=params).status_code == 422


def _settings(directory, log_public_key) -> Settings:
    return Settings(audit_witness=WitnessSettings(
        source_url=f"http://127.0.0.1:{free_port()}", token=SecretStr(TOKEN), log_public_key=log_public_key,
        dir=directory))


def test_checkpoints_without_parameters_answers_one_bounded_page_and_following_next_reads_the_history_once(
        tmp_path):
    lines = 5 * MAX_PAGE
    key = signed_store(tmp_path / "w", [3 * size for size in range(1, lines + 1)])
    client = TestClient(create_app(_settings(tmp_path / "w", key)))
    first = client.get("/checkpoints")
    assert first.status_code == 200 and len(first.json()["notes"]) == MAX_PAGE
    assert len(first.content) < 2 * (tmp_path / "w" / COSIGNED).stat().st_size / 5  # a fifth of the history
    read, answer, pages = [], first.json(), 1
    while "next" in answer:
        read += answer["notes"]
        answer = client.get("/checkpoints", params={"from": answer["next"]}).json()
        pages += 1
    read += answer["notes"]
    assert read == read_notes(tmp_path / "w") and pages == 5


def _reference(lines: list[bytes], size: int, limit: int) -> list[str]:
    """The linear scan: every kept checkpoint of `size` records or more, in file order, up to `limit`."""
    notes = [orjson.loads(line)["note"] for line in lines if line.strip()]
    return [note for note in notes if int(note.split()[1]) >= size][:limit]


@pytest.mark.parametrize("seed", range(6))
def test_a_page_found_by_bisection_is_the_one_a_scan_from_the_start_finds(tmp_path, seed):
    import random

    rng = random.Random(seed)
    sizes = sorted(rng.sample(range(1, 50_000), rng.choice([1, 2, 3, 40, 700])))
    # Lines of every length from a few bytes to several blocks, and the odd blank line, as an edit leaves them.
    lines = [_line(size, rng.choice([0, 1, 30, 500, 5000, 20000])) for size in sizes]
    for _ in range(rng.randrange(3)):
        lines.insert(rng.randrange(len(lines) + 1), rng.choice([b"\n", b"   \n"]))
    _write(tmp_path, lines)
    asks = [0, 1, sizes[0], sizes[0] + 1, sizes[-1], sizes[-1] + 1, 2**62,
            *(rng.randrange(sizes[-1] + 2) for _ in range(60))]
    for size in asks:
        limit = rng.choice([1, 2, 5, 1000])
        assert read_notes_from(tmp_path, size, limit) == _reference(lines, size, limit), (size, limit)


def test_a_store_edited_out_of_order_is_refused_by_the_scan_and_no_page_from_it_holds_a_smaller_tree(tmp_path):
    _write(tmp_path, [_line(size) for size in (3, 6, 9, 7, 12, 15, 14, 18)])
    with pytest.raises(ValueError, match=f"{COSIGNED} line 4: tree size 7 after 9"):
        read_head(tmp_path)
    for size in range(20):
        try:
            page = [int(note.split()[1]) for note in read_notes_from(tmp_path, size, 3)]
        except ValueError as exc:
            assert "out of order" in str(exc)
            continue
        assert all(found >= size for found in page) and page == sorted(set(page))


def test_a_line_over_the_bound_met_by_the_bisection_is_a_message_naming_the_file(tmp_path):
    _write(tmp_path, [_line(1), _line(2), b"x" * (MAX_LINE + 10) + b"\n", _line(4)])
    with pytest.raises(ValueError, match=f"{COSIGNED} line at byte .* over"):
        for size in range(6):
            read_notes_from(tmp_path, size, 1)
