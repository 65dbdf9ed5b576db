"""One seq range of a parallel verification, in a process of its own.

`python -m mlobs.audit.verification.verify_worker` reads the job as JSON on stdin and writes the range's
Segment as JSON on stdout. A plain interpreter is ready in about a tenth of a second;
multiprocessing's spawn also re-imports the parent's main module first, which took 0.4 s of a
3-second verification when the parent was a benchmark that had imported the whole library.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Iterator

import orjson

from mlobs.audit.record import GENESIS_HASH
from mlobs.audit.time_steps import TimeSteps
from mlobs.audit.verify import Problem, Segment, check_segment


def check_range(url: str, lo: int, hi: int, pinned: dict[int, str]) -> Segment:
    """check_segment over records lo..hi of the store at `url`, without opening (or migrating) it."""
    start_prev = GENESIS_HASH if lo == 1 else None
    if url.startswith("sqlite:///"):
        from mlobs.audit.verification.sqlite_verify import check_range as check_sqlite_range, connect_readonly

        conn = connect_readonly(url.removeprefix("sqlite:///"))
        try:
            return check_sqlite_range(conn, lo, hi, pinned, start_prev)
        finally:
            conn.close()
    return check_segment(postgres_rows(url, lo, hi), pinned, lo, start_prev)


def postgres_rows(url: str, lo: int, hi: int, chunk: int = 10_000) -> Iterator[tuple]:
    """Records lo..hi (seq, header, payload, hash) of a PostgreSQL log, streamed by a server-side cursor."""
    from mlobs.audit.storage.pg_bounded import VERIFY_TIMEOUT_S, connect
    from mlobs.audit.storage.store import SELECT_COLUMNS

    sql = f"SELECT {SELECT_COLUMNS} FROM audit_records WHERE seq BETWEEN {int(lo)} AND {int(hi)} ORDER BY seq"
    with connect(url, VERIFY_TIMEOUT_S, autocommit=False) as conn, conn.cursor(name="audit_verify_range") as cur:
        cur.itersize = chunk
        cur.execute(sql)
        yield from cur


def job(url: str, lo: int, hi: int, pinned: dict[int, str]) -> bytes:
    return orjson.dumps({"url": url, "lo": lo, "hi": hi, "pinned": list(pinned.items())})


def segment_from_json(data: bytes) -> Segment:
    fields = orjson.loads(data)
    problem, times = fields.pop("problem"), fields.pop("times")
    return Segment(**fields, problem=Problem(**problem) if problem else None, times=TimeSteps(**times))


def main() -> None:
    spec = orjson.loads(sys.stdin.buffer.read())
    segment = check_range(spec["url"], spec["lo"], spec["hi"], {seq: h for seq, h in spec["pinned"]})
    sys.stdout.buffer.write(orjson.dumps(asdict(segment)))


if __name__ == "__main__":
    main()
