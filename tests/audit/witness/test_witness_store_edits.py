"""A witness's history edited line by line, as someone with write access to its disk would: every answer of
the store (the start's scan, the newest line, a page from a size on) is compared with a plain reading of the
file line by line with a JSON parser. The start's scan may take a fast path, but it must never accept a line
that the JSON reading refuses, nor read a size the JSON reading does not."""

from __future__ import annotations

import random

import orjson
import pytest

from mlobs.audit.witness.store import COSIGNED, MAX_LINE, read_head, read_latest, read_notes_from

ORIGIN = "mlobs.test/audit"
LINES = 9000  # about 4.7 MB: the scan reads the file in blocks of 4 MiB, so one block boundary falls inside


def _note(size: int, pad: int = 0) -> str:
    """A checkpoint note's shape: origin, size, root, blank line, signature lines."""
    return (f"{ORIGIN}\n{size}\n{'A' * 43}=\n\n\u2014 {ORIGIN} {'s' * 88}\n"
            f"\u2014 mlobs.local/witness {'c' * 96}{'x' * pad}\n")


def _line(size: int, pad: int = 0) -> bytes:
    return orjson.dumps({"size": size, "note": _note(size, pad)}) + b"\n"


class Refused(Exception):
    pass


def _reference(data: bytes) -> list[tuple[int, int, str]]:
    """(line number, size, note) of every kept checkpoint, reading the file line by line with a JSON parser;
    Refused(line number) where a line is not a kept checkpoint or its size does not grow. A last line
    without its newline is not written yet: it is not read."""
    entries: list[tuple[int, int, str]] = []
    last = -1
    lines = data.split(b"\n")[:-1]  # the bytes after the last newline are no line
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if len(line) + 1 > MAX_LINE:
            raise Refused(number)
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise Refused(number) from None
        if not (isinstance(entry, dict) and type(entry.get("size")) is int and isinstance(entry.get("note"), str)):
            raise Refused(number)
        if entry["note"].split("\n")[1:2] != [str(entry["size"])] or entry["size"] <= last:
            raise Refused(number)
        last = entry["size"]
        entries.append((number, entry["size"], entry["note"]))
    return entries


def _edited(edit: bytes, at: int, pad_every: int = 0) -> bytes:
    lines = [_line(5 * i, 3000 if pad_every and i % pad_every == 0 else 0) for i in range(1, LINES + 1)]
    lines[at] = edit
    return b"".join(lines)


def _check_against_reference(tmp_path, data: bytes) -> None:
    (tmp_path / COSIGNED).write_bytes(data)
    try:
        entries = _reference(data)
    except Refused as refused:
        with pytest.raises(ValueError, match=f"{COSIGNED} line {refused.args[0]}\\b"):
            read_head(tmp_path)
        return
    head = read_head(tmp_path)
    assert (head.line, head.size, head.note) == entries[-1]
    assert read_latest(tmp_path) == entries[-1][2]
    sizes = [size for _, size, _ in entries]
    rng = random.Random(len(data))
    for size in [0, sizes[0], sizes[-1], sizes[-1] + 1, *(rng.randrange(sizes[-1] + 2) for _ in range(40))]:
        want = [note for _, s, note in entries if s >= size][:3]
        assert read_notes_from(tmp_path, size, 3) == want, size


def _swap(line: bytes, old: bytes, new: bytes) -> bytes:
    assert old in line
    return line.replace(old, new, 1)


AT = 4321
SIZE = 5 * (AT + 1)
GOOD = _line(SIZE)
EDITS = {
    # What a JSON parser reads differently from the witness's own serialisation.
    "a second size key, smaller": GOOD[:-2] + b',"size":7}\n',
    "a second size key, larger": GOOD[:-2] + b',"size":%d}\n' % (SIZE + 3),
    "a second note key of another size": GOOD[:-2] + b',"note":' + orjson.dumps(_note(SIZE + 1)) + b"}\n",
    "text after the object": GOOD[:-1] + b"garbage\n",
    "two objects on one line": GOOD[:-1] + _line(SIZE + 1),
    "a byte that is not UTF-8 in the note": _swap(GOOD, b"sss", b"s\xffs"),
    "a raw tab in the note": _swap(GOOD, b"sss", b"s\ts"),
    "an escape JSON does not know in the note": _swap(GOOD, b"sss", b"s\\qs"),
    "the note's size line spelt with an escaped digit": _swap(
        GOOD, b"\\n%d\\n" % SIZE, b"\\n\\u00%x%s\\n" % (GOOD[8], str(SIZE)[1:].encode())),
    "a size with a fraction": _swap(GOOD, b'"size":%d' % SIZE, b'"size":%d.0' % SIZE),
    "a line over the bound written as the witness writes": _line(SIZE, MAX_LINE),
    # What a JSON parser reads as the witness wrote it: the same answers.
    "spaces between the fields": orjson.dumps({"size": SIZE, "note": _note(SIZE)}, option=orjson.OPT_INDENT_2)
    .replace(b"\n", b" ") + b"\n",
    "a carriage return before the newline": GOOD[:-1] + b"\r\n",
    "the size after the note": b'{"note":' + orjson.dumps(_note(SIZE)) + b',"size":%d}\n' % SIZE,
    "a size key inside another field": GOOD[:-2] + b',"x":"{\\"size\\":1}"}\n',
    "a blank line": b"  \n",
    "an escaped slash in the note": _swap(GOOD, b"sss", b"s\\/s"),
    "a note with a hundred cosignatures": orjson.dumps({"size": SIZE, "note": _note(SIZE) + "".join(
        f"\u2014 witness-{i}.example {'w' * 96}\n" for i in range(100))}) + b"\n",
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_a_line_edited_in_the_middle_is_read_by_the_start_as_a_json_parser_reads_it(tmp_path, edit):
    _check_against_reference(tmp_path, _edited(edit, AT))


@pytest.mark.parametrize("edit", ["a second size key, smaller", "a line over the bound written as the witness writes",
                                  "text after the object", "spaces between the fields"])
def test_an_edited_line_right_after_a_block_boundary_of_the_scan_is_read_the_same(tmp_path, edit):
    data = _edited(b"", 0)
    at = data[:4 * 1024 * 1024].count(b"\n")  # the first line starting in the second block
    _check_against_reference(tmp_path, _edited(EDITS[edit].replace(b"%d" % SIZE, b"%d" % (5 * (at + 1))), at))


def test_a_store_edited_at_random_places_is_read_by_every_reader_as_a_json_parser_reads_it(tmp_path):
    rng = random.Random(7)
    edits = list(EDITS.values())
    for _ in range(12):
        lines = [_line(5 * i, rng.choice([0, 0, 0, 200, 5000])) for i in range(1, 400)]
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(lines))
            lines[at] = rng.choice(edits).replace(b"%d" % SIZE, b"%d" % (5 * (at + 1)))
        _check_against_reference(tmp_path, b"".join(lines))


def _edit_in_place(path, at: int, line: bytes) -> None:
    """Overwrite line `at` with `line` of the same length, in place: same file, same size."""
    data = path.read_bytes()
    offset = sum(len(x) + 1 for x in data.split(b"\n")[:at])
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(line)


def test_a_history_edited_in_place_while_the_witness_serves_it_is_refused_by_every_reader_until_it_checks_again(
        tmp_path, monkeypatch):
    from starlette.testclient import TestClient

    from audit.witness.test_witness_store_reads import _settings
    from audit.witness_helpers import signed_store
    from mlobs.audit.witness import store
    from mlobs.audit.witness.service import create_app

    directory = tmp_path / "w"
    key = signed_store(directory, range(100, 200))  # sizes of three digits: lines of one length
    client = TestClient(create_app(_settings(directory, key)), raise_server_exceptions=False)
    scans = []
    monkeypatch.setattr(store, "read_head", lambda d, real=store.read_head: scans.append(d) or real(d))
    assert [n.split("\n")[1] for n in client.get("/checkpoints", params={"from": 150, "limit": 2}).json()["notes"]
            ] == ["150", "151"]
    assert scans == []  # an unchanged history is not scanned again

    lines = (directory / COSIGNED).read_bytes().split(b"\n")
    original = lines[10]
    _edit_in_place(directory / COSIGNED, 10, lines[90])  # tree 190 where 110 was: the sizes out of order
    for path, params in (("/checkpoints", {"from": 150, "limit": 2}), ("/checkpoints", {}), ("/checkpoint", {})):
        answer = client.get(path, params=params)
        assert answer.status_code == 500, (path, answer.text)
        assert f"{COSIGNED} line 12: tree size 111 after 190" in answer.json()["detail"]
    assert len(scans) == 1  # the refusal is remembered while the file stays as it is

    _edit_in_place(directory / COSIGNED, 10, original)
    assert client.get("/checkpoints", params={"from": 110, "limit": 1}).json()["notes"][0].split("\n")[1] == "110"
    assert client.get("/checkpoint").status_code == 200


def test_the_witness_reads_its_history_after_its_own_appends_without_scanning_it_again(
        log, store_url, audit_settings, tmp_path, monkeypatch):
    from audit.witness_helpers import witnessed_at
    from mlobs.audit.witness import store

    witness = witnessed_at(log, store_url, audit_settings, tmp_path / "w", sizes=(10, 20, 30))
    scans = []
    monkeypatch.setattr(store, "read_head", lambda d, real=store.read_head: scans.append(d) or real(d))
    assert [entry["size"] for entry in witness.store.page(0, 10)] == [10, 20, 30]
    assert witness.store.latest().split("\n")[1] == "30" and scans == []
    with open(tmp_path / "w" / COSIGNED, "ab") as handle:  # a blank line: another writer, harmless
        handle.write(b"\n")
    assert [entry["size"] for entry in witness.store.page(15, 10)] == [20, 30] and len(scans) == 1


def test_a_byte_order_mark_before_the_first_line_is_named_as_a_json_parser_refuses_it(tmp_path):
    _check_against_reference(tmp_path, b"\xef\xbb\xbf" + _edited(_line(5), 0))
    with pytest.raises(ValueError, match=f"{COSIGNED} line 1 is not a cosigned checkpoint"):
        read_head(tmp_path)


def test_following_next_through_a_history_of_lines_written_every_way_json_allows_reads_each_checkpoint_once(
        tmp_path):
    from starlette.testclient import TestClient

    from audit.witness.test_witness_store_reads import _settings
    from audit.witness_helpers import signed_store
    from mlobs.audit.witness.service import create_app

    directory = tmp_path / "w"
    key = signed_store(directory, [10_000])  # the last line, whose signatures the start checks
    signed = (directory / COSIGNED).read_bytes()
    rng = random.Random(3)
    lines = []
    for size in sorted(rng.sample(range(1, 9_999), 300)):
        line = rng.choice([_line(size), _line(size), _line(size, 3000), _line(size)[:-1] + b"\r\n",
                           b'{"note":' + orjson.dumps(_note(size)) + b', "size": %d}\n' % size])
        lines.append(line + rng.choice([b"", b"", b"", b"\n", b"  \n"]))
    (directory / COSIGNED).write_bytes(b"".join(lines) + signed)
    want = [note for _, _, note in _reference((directory / COSIGNED).read_bytes())]
    client = TestClient(create_app(_settings(directory, key)))
    for limit in (1, 7, 1000):
        read, params = [], {"limit": limit}
        while True:
            answer = client.get("/checkpoints", params=params).json()
            read += answer["notes"]
            if "next" not in answer:
                break
            params = {"from": answer["next"], "limit": limit}
        assert read == want, limit
