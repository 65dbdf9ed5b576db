"""The witness's own store: its key, and every checkpoint it cosigned, in one append-only file.

    <dir>/witness_key.pem       the witness's Ed25519 private key (0600)
    <dir>/witness_key.pub.pem   its public key, for `--witness-key`
    <dir>/cosigned.jsonl        one {"size", "note"} object per cosigned checkpoint, in order
    <dir>/rotations.jsonl       the evidence of each key rotation of the log it followed, in order

The file grows by one line (about half a kilobyte) a poll, millions of lines a year, so no read of it
but `read_head` (a scan without cryptography, at start) depends on its length: the newest line is read
from the end, a page from a size on is found by bisection over byte offsets (the sizes strictly
increase, which `read_head` checks and the witness keeps by appending only larger trees).

Both files are appended with `mlobs.whole_lines.append_whole`: a line counts once its newline is written,
so every reader reads up to the last newline, and bytes after it (an append a crash cut short) are cut
back by the next append.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mlobs.audit.files import private_dir, private_file, read_secret
from mlobs.audit.keys.pseudonym import write_private
from mlobs.audit.keys.signing import public_key_pem
from mlobs.whole_lines import append_whole, whole_end

log = logging.getLogger("mlobs.audit.witness")

KEY = "witness_key.pem"
PUBLIC_KEY = "witness_key.pub.pem"
COSIGNED = "cosigned.jsonl"
ROTATIONS = "rotations.jsonl"


class NotKept(Exception):
    """A line the store refused to append: its file does not end where this witness left it (another
    witness writes the directory, or a line was appended behind its back)."""


class WitnessStore:
    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self.dir = private_dir(self.dir)
        path = self.dir / KEY
        if not path.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            write_private(path, pem, exclusive=True)
        private = serialization.load_pem_private_key(read_secret(path), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        self.private = private
        (self.dir / PUBLIC_KEY).write_bytes(public_key_pem(private.public_key()))
        # cosigned.jsonl as `head` last scanned it, kept in step by this store's own appends; and the state
        # a scan refused, with its message.
        self._scanned: tuple | None = _UNCHECKED
        self._refused: tuple[tuple | None, str] | None = None

    def latest(self) -> str | None:
        self._scan_if_changed()
        return read_latest(self.dir)

    def page(self, size: int, limit: int) -> list[dict]:
        self._scan_if_changed()
        return read_page(self.dir, size, limit)

    def head(self) -> Head | None:
        """`read_head`, remembering the state of the file it passed."""
        state = self._state()
        try:
            head = read_head(self.dir)
        except ValueError as exc:
            self._refused = (state, str(exc))
            raise
        self._scanned, self._refused = state, None
        return head

    def _scan_if_changed(self) -> None:
        """Before a reader is answered: a history changed since the last scan by anything but this store's
        appends (an edit, another writer) is scanned again, since the newest line and the bisection are right
        only on a history the scan passes. ValueError names the line it refuses, until the file changes."""
        state = self._state()
        if state == self._scanned:
            return
        if self._refused is not None and self._refused[0] == state:
            raise ValueError(self._refused[1])
        self.head()

    def _state(self) -> tuple | None:
        try:
            return _file_state(os.stat(self.dir / COSIGNED))
        except FileNotFoundError:
            return None

    def keep(self, size: int, note: str, after: int | None) -> None:
        """Append the checkpoint of `size` records right after the line of tree size `after` (None: into a
        history holding none), the last this witness kept: raises NotKept if the history ends otherwise, as
        when another witness writes this directory or a line was appended behind its back. Checked under the
        append's lock, so no other append comes in between; the sizes stay in order, the store starts."""
        path = self.dir / COSIGNED
        scanned = [False]  # the file before this append: the one the last scan passed

        def after_its_own_last(handle, end: int) -> None:
            before = os.fstat(handle.fileno())
            scanned[0] = _file_state(before) == self._scanned or (self._scanned is None and before.st_size == 0)
            try:
                last = _last_entry(handle, end, path)
            except ValueError as exc:  # a last line edited while the witness runs
                raise NotKept(str(exc)) from None
            found = None if last is None else last["size"]
            if found != after:
                raise NotKept(f"{path} ends at tree size {found}, not at {after} where this witness left it: "
                              "another witness writes this directory, or a line was appended to it")

        def in_step(handle) -> None:
            self._scanned = _file_state(os.fstat(handle.fileno())) if scanned[0] else _UNCHECKED

        self._append(COSIGNED, {"size": size, "note": note}, after_its_own_last, in_step)

    def keep_rotation(self, evidence: dict, after: int | None) -> None:
        """Append a key rotation's evidence right after that of the rotation at leaf `after` (None: into a
        file holding none), the last this witness followed: raises NotKept otherwise, as when another
        witness writes this directory (the same rotation kept twice would stop the next start)."""
        path = self.dir / ROTATIONS

        def after_its_own_last(handle, end: int) -> None:
            try:
                line = _last_line(handle, end, path)
                found = orjson.loads(line)["leaf_index"] if line else None
            except (ValueError, KeyError, TypeError) as exc:  # orjson's errors are ValueErrors
                raise NotKept(f"{path}: its last line is not key rotation evidence ({exc})") from None
            if found != after:
                raise NotKept(f"{path} ends at the rotation at leaf {found}, not at {after} where this witness "
                              "left it: another witness writes this directory, or a line was appended to it")

        self._append(ROTATIONS, evidence, after_its_own_last)

    def rotations(self) -> list[dict]:
        path = self.dir / ROTATIONS
        if not path.exists():
            return []
        found = []
        data = path.read_bytes()
        for number, line in enumerate(data[:data.rfind(b"\n") + 1].splitlines(), 1):
            try:
                found.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                raise ValueError(f"{path} line {number} is not key rotation evidence (the file was edited)") from None
        return found

    def _append(self, name: str, entry: dict, check=None, after=None) -> None:
        """One line, durable, or nothing: a line the caller is told failed is never found there later."""
        path = private_file(self.dir / name)
        with open(path, "a+b", buffering=0) as handle:
            cut = append_whole(handle, orjson.dumps(entry) + b"\n", sync=True, longest=MAX_LINE,
                               check=None if check is None else lambda end: check(handle, end),
                               after=None if after is None else lambda: after(handle))
        if cut:
            log.warning("witness: cut %d bytes of an unfinished line from the end of %s", cut, path)


_UNCHECKED = ("unchecked",)


def _file_state(stat: os.stat_result) -> tuple:
    """What changes with any write to a file, its length or not: ctime cannot be set back by its writer."""
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_ctime_ns


# Far above one cosigned checkpoint (a note with a hundred cosignatures is about 12 KB).
MAX_LINE = 64 * 1024
_BLOCK = 4096
_SCAN_BLOCK = 4 * 1024 * 1024
# A whole line as the witness writes it (orjson, no spaces), its note's size line stating the entry's size:
# the scan's fast path. It must read exactly what a JSON parser reads, so it matches the line from its first
# byte to its last: the two keys once each; a note of printable ASCII other than quote and backslash, "\n"
# escapes, and the em dash that starts a signature line (nothing to decode differently, nothing that is not
# UTF-8); at most 61 note lines of 1 KiB each, so no line it accepts is over MAX_LINE. Any other line,
# however valid, is parsed as JSON instead.
# Possessive: no class it repeats holds the character that follows it, so nothing is given back.
_TEXT = rb'[\x20\x21\x23-\x5b\x5d-\x7e]{0,1024}+'
_WRITTEN = re.compile(rb'^\{"size":(0|[1-9][0-9]{0,18}),"note":"' + _TEXT + rb'\\n\1\\n' + _TEXT
                      + rb'(?:\\n(?:\xe2\x80\x94 )?' + _TEXT + rb'){0,60}+"\}$', re.MULTILINE)


@dataclass(frozen=True)
class Head:
    """The last line of a witness's store: its number in the file, its tree size and its note."""

    line: int
    size: int
    note: str


def read_head(directory: Path) -> Head | None:
    """The store's last cosigned checkpoint (None if it holds none), once one pass over the file, without
    cryptography, found every non-blank whole line a {"size", "note"} object whose note states that size,
    and the sizes strictly increasing: so the last line is the largest tree the file records, and an older
    checkpoint appended (or lines swapped or repeated) is a ValueError naming the line. Nothing in it
    checks a signature: the caller checks the last line's (what a witness resumes from), and every
    reader of another line checks that one's."""
    path = Path(directory) / COSIGNED
    if not path.exists():
        return None
    scanned = (0, -1, b"", 0)  # lines numbered, the last size, the last non-blank line and its number
    with open(path, "rb") as handle:
        rest = b""
        while True:
            block = handle.read(_SCAN_BLOCK)
            data = rest + block
            cut = data.rfind(b"\n") + 1  # at the end, bytes after the last newline are no line yet
            lines, rest = data[:cut], data[cut:]
            if len(rest) > MAX_LINE:
                number = scanned[0] + lines.count(b"\n") + 1
                raise ValueError(f"{path} line {number} is over {MAX_LINE} bytes, not a cosigned checkpoint "
                                 "(the file was edited)")
            if lines:
                scanned = _scan(lines, *scanned, path)
            if not block:
                break
    _, _, line, number = scanned
    if not line:
        return None
    entry = _entry(line, f"{path} line {number}")
    return Head(number, entry["size"], entry["note"])


def _scan(lines: bytes, number: int, last: int, final: bytes, final_number: int,
          path: Path) -> tuple[int, int, bytes, int]:
    """The scan's state (lines numbered, the last size, the last non-blank line and its number) after
    `lines`, whole lines; raises ValueError at the first line out of place."""
    count = lines.count(b"\n") + (0 if lines.endswith(b"\n") else 1)
    sizes = _WRITTEN.findall(lines)
    if len(sizes) == count:  # every line as the witness writes it
        sizes = [int(size) for size in sizes]
        if sizes[0] > last and all(a < b for a, b in zip(sizes, sizes[1:])):
            number += count
            return number, sizes[-1], lines[lines.rfind(b"\n", 0, len(lines) - 1) + 1:], number
    for line in (lines[:-1] if lines.endswith(b"\n") else lines).split(b"\n"):
        number += 1
        if len(line) >= MAX_LINE:  # as a reader of the line would find it, with its newline
            raise ValueError(f"{path} line {number} is over {MAX_LINE} bytes, not a cosigned checkpoint "
                             "(the file was edited)")
        if not line.strip():
            continue
        entry = _entry(line, f"{path} line {number}")
        stated = entry["note"].split("\n", 2)[1:2]
        if stated != [str(entry["size"])]:
            raise ValueError(f"{path} line {number}: its note is not of the tree size {entry['size']} it is kept "
                             "under (the file was edited)")
        if entry["size"] <= last:
            raise ValueError(f"{path} line {number}: tree size {entry['size']} after {last} (the file was edited)")
        last, final, final_number = entry["size"], line, number
    return number, last, final, final_number


def read_notes(directory: Path) -> list[str]:
    """The cosigned checkpoints a witness directory holds, oldest first: the whole history (for tests
    and small stores; the service and the commands read pages)."""
    return [entry["note"] for entry in _entries(directory)]


def read_notes_from(directory: Path, size: int, limit: int) -> list[str]:
    """At most `limit` cosigned checkpoints of trees of `size` records or more, oldest first: found by
    bisection, reading about 2 * log2(file size) lines whatever the history's length."""
    return [entry["note"] for entry in read_page(directory, size, limit)]


def read_page(directory: Path, size: int, limit: int) -> list[dict]:
    """At most `limit` entries ({"size", "note"}) of trees of `size` records or more, oldest first."""
    path = Path(directory) / COSIGNED
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return []
    with handle:
        end = _whole_end(handle, path)
        handle.seek(first_at_or_after(handle, size, end, path))
        found: list[dict] = []
        while len(found) < limit:
            where = handle.tell()
            if where >= end:
                break
            line = _bounded_line(handle, path, where)
            if not line.strip():
                continue
            entry = _entry(line, f"{path} line at byte {where}")
            if entry["size"] < size or (found and entry["size"] <= found[-1]["size"]):
                raise ValueError(f"{path} line at byte {where}: tree size {entry['size']} is out of order "
                                 "(the file was edited)")
            found.append(entry)
    return found


def first_at_or_after(handle, size: int, end: int, path: Path) -> int:
    """The byte offset of the first line whose tree size is `size` or more (or of the blank lines before
    it; `end` if none), by bisection over byte offsets: seek, skip to the next line, read it.

    Invariants: every entry starting before `lo` is of a smaller tree; the first entry at or after `hi`
    is of `size` or more (or there is none); probes fall in [lo, top), top <= hi."""
    lo, hi, top = 0, end, end
    while lo < hi:
        mid = (lo + top) // 2
        start = _line_start(handle, mid, lo, path)
        if start >= hi:  # no line starts in [mid, hi): look left of mid
            top = mid
            continue
        at, found, after = _entry_at(handle, start, hi, path)
        if found is None:  # only blank lines in [start, hi)
            hi = top = start
        elif found < size:
            lo, top = after, hi
        else:
            hi = top = at
    return lo


def _line_start(handle, offset: int, lo: int, path: Path) -> int:
    """The first line start at or after `offset` (`lo` is one)."""
    if offset <= lo:
        return lo
    handle.seek(offset - 1)
    return offset - 1 + len(_bounded_line(handle, path, offset - 1))


def _entry_at(handle, start: int, hi: int, path: Path) -> tuple[int, int | None, int]:
    """(where the first non-blank line in [start, hi) starts, its tree size, where the line after it
    starts); (hi, None, hi) if there is none."""
    handle.seek(start)
    where = start
    while where < hi:
        line = _bounded_line(handle, path, where)
        if not line:
            break
        if line.strip():
            return where, _entry(line, f"{path} line at byte {where}")["size"], where + len(line)
        where += len(line)
    return hi, None, hi


def _bounded_line(handle, path: Path, where: int) -> bytes:
    line = handle.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise ValueError(f"{path} line at byte {where} is over {MAX_LINE} bytes, not a cosigned checkpoint "
                         "(the file was edited)")
    return line


def read_latest(directory: Path) -> str | None:
    """The newest cosigned checkpoint, read from the end of the file: the same few kilobytes
    whatever the length of the history (it grows by one line a poll)."""
    path = Path(directory) / COSIGNED
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return None
    with handle:
        entry = _last_entry(handle, _whole_end(handle, path), path)
    return entry["note"] if entry is not None else None


def _last_entry(handle, end: int, path: Path) -> dict | None:
    """The last non-blank line of the whole lines ending at `end`, as an entry; None if there is none."""
    line = _last_line(handle, end, path)
    return _entry(line, f"{path}: its last line") if line else None


def _last_line(handle, end: int, path: Path) -> bytes:
    """The last non-blank line of the whole lines ending at `end`, stripped; b"" if there is none."""
    pos = end
    tail = b""
    while pos > 0 and not (tail.strip() and b"\n" in tail.rstrip()):
        if end - pos > MAX_LINE:
            raise ValueError(f"{path}: its last line is over {MAX_LINE} bytes (the file was edited)")
        step = min(_BLOCK, pos)
        pos -= step
        handle.seek(pos)
        tail = handle.read(step) + tail
    return tail.rstrip().rsplit(b"\n", 1)[-1].strip()


def _entries(directory: Path):
    path = Path(directory) / COSIGNED
    if not path.exists():
        return
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip() and line.endswith(b"\n"):
                yield _entry(line, f"{path} line {number}")


def _whole_end(handle, path: Path) -> int:
    """Where the file's whole lines end (bytes after the last newline are an append not finished yet)."""
    try:
        return whole_end(handle, limit=MAX_LINE)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}, not a cosigned checkpoint (the file was edited)") from None


def _entry(line: bytes, where: str) -> dict:
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError:
        entry = None
    if (not isinstance(entry, dict) or not isinstance(entry.get("note"), str)
            or not isinstance(entry.get("size"), int) or isinstance(entry.get("size"), bool)):
        raise ValueError(f"{where} is not a cosigned checkpoint (the file was edited)")
    return entry
