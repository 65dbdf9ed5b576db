"""Predictions held for feedback in a database shared by every replica (SQLite file or PostgreSQL).

The same promises as the in-memory `PredictionMemory` (mlobs.feedback), across processes, restarts and
days: a prediction is claimed at most once (one UPDATE ... WHERE not answered ... RETURNING, atomic in the
database), only by its client or a labeller. What is stored: the model, its version, the request id, the
index in the batch, the client id, the predicted class index and the time; never an input.

Recording never waits on the database: `remember` puts the rows on a bounded queue that a writer thread
inserts in batches; a full queue or a failed insert drops them, counted through `on_dropped` (a feedback
for a dropped prediction answers 404). A claim waits at most `timeout_s` (a 503 past it). The writer also
keeps the table within `max_rows` and `max_age_days`, oldest first, in small deletes that hold no lock for
long.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from urllib.parse import urlsplit

log = logging.getLogger("mlobs.feedback")

TABLE = "mlobs_feedback_predictions"
CLASSES_TABLE = "mlobs_feedback_classes"
PRUNE_CHUNK = 2_000  # rows per DELETE: each holds its locks only that long
PRUNE_EVERY_S = 5.0
CLAIM_THREADS = 4
MAX_BACKOFF_S = 2.0  # between attempts to reach a store that is down: one connection attempt per replica
LINGER_S = 0.05  # how long the writer waits for more requests before it inserts what it holds
# A batch insert or a prune may take this many claim timeouts before the writer gives it up and reconnects.
WRITE_TIMEOUTS = 5


class StoreUnavailable(Exception):
    """The store did not answer within the timeout, or failed."""


def _schema(postgres: bool) -> list[str]:
    seq = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY"
    real = "DOUBLE PRECISION" if postgres else "REAL"
    return [
        f"CREATE TABLE IF NOT EXISTS {TABLE} (seq {seq}, model TEXT NOT NULL, request_id TEXT NOT NULL, "
        f"idx INTEGER NOT NULL, client TEXT NOT NULL, model_version TEXT NOT NULL, predicted INTEGER NOT NULL, "
        f"created_at {real} NOT NULL, answered_at {real}, UNIQUE (model, request_id, idx))",
        f"CREATE TABLE IF NOT EXISTS {CLASSES_TABLE} (model TEXT NOT NULL, model_version TEXT NOT NULL, "
        f"classes TEXT NOT NULL, PRIMARY KEY (model, model_version))",
    ]


class _Backend:
    """Connections and SQL of one database kind; `?` placeholders are rewritten for PostgreSQL.

    PostgreSQL connections are mlobs.pg_connect's: no wait on a server that stopped answering outlasts its
    bound, and one dropped for it is replaced at its next use. The server ends what it answers late itself
    (statement_timeout, lock_timeout): a claim its client gave up on must not be made behind its back. A
    SQLite call blocked on a hung volume has no such bound: a watchdog thread interrupts it."""

    def __init__(self, url: str, timeout_s: float):
        self.url, self.timeout_s = url, timeout_s
        scheme = urlsplit(url).scheme
        if scheme == "sqlite":
            self.postgres = False
            self.path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url[len("sqlite://"):]
            if not self.path:
                raise ValueError("a SQLite feedback store needs a path: sqlite:////var/lib/mlobs/feedback.db")
        elif scheme in ("postgresql", "postgres"):
            self.postgres = True
            try:
                import psycopg  # noqa: F401
            except ImportError:
                raise ValueError("a PostgreSQL feedback store needs psycopg: pip install 'mlobs[postgres]'") from None
        else:
            raise ValueError(f"feedback store URL must start with sqlite:/// or postgresql://, not {scheme!r}://")

    def session(self, bound_s: float | None = None):
        """One connection at a time in autocommit, replaced at its next use once closed; `bound_s` bounds each
        statement (default: the claim timeout). Connecting takes at most the claim timeout (in whole seconds, at
        least 2)."""
        bound_s = bound_s or self.timeout_s
        if not self.postgres:
            return _SqliteSession(self.path, bound_s)
        from mlobs import pg_connect

        ms = max(1, int(bound_s * 1000))
        return pg_connect.Session(self.url, bound_s, connect_timeout_s=self.timeout_s,
                                  settings={"statement_timeout": ms, "lock_timeout": ms})

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.postgres else statement


class _SqliteSession:
    """A SQLite connection held as pg_connect.Session holds a PostgreSQL one."""

    def __init__(self, path: str, bound_s: float):
        self.path, self.bound_s = path, bound_s
        self._conn: sqlite3.Connection | None = None

    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, timeout=self.bound_s, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # predictions, not records: a power cut may lose the last
            self._conn = conn
        return self._conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        _close(conn)


class _Watchdog:
    """Interrupts any SQLite call still running past its deadline (one blocked on a volume that hangs)."""

    def __init__(self, stopping: threading.Event):
        self._stopping = stopping
        self._calls: dict[int, tuple[float, sqlite3.Connection]] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._run, name="mlobs-feedback-watchdog", daemon=True).start()

    @contextmanager
    def limit(self, conn, seconds: float):
        key = object()
        with self._lock:
            self._calls[id(key)] = (time.monotonic() + seconds, conn)
        try:
            yield
        finally:
            with self._lock:
                self._calls.pop(id(key), None)

    def _run(self) -> None:
        while not self._stopping.wait(0.1):
            now = time.monotonic()
            with self._lock:
                late = [k for k, (deadline, _) in self._calls.items() if deadline < now]
                conns = [self._calls.pop(k)[1] for k in late]
            for conn in conns:
                try:
                    conn.interrupt()
                except Exception:
                    pass


class Claim:
    """The outcome of claiming a prediction: `predicted` (and the model version that made it) when accepted."""

    __slots__ = ("status", "predicted", "version")

    def __init__(self, status: str, predicted: str | None = None, version: str | None = None):
        self.status, self.predicted, self.version = status, predicted, version


ACCEPTED, UNKNOWN, FORBIDDEN, DUPLICATE = "accepted", "unknown", "forbidden", "duplicate"


class SqlPredictionStore:
    """Predictions of one model in a shared table; see the module docstring for what it promises."""

    def __init__(self, url: str, model: str, version: str, classes, *, max_rows: int, max_age_days: float,
                 queue_size: int, batch: int, timeout_s: float, on_dropped=None, clock=time.time):
        self.backend = _Backend(url, timeout_s)
        self.model, self.version = model, version
        self.classes = tuple(str(c) for c in classes)
        self._index = {c: i for i, c in enumerate(self.classes)}
        self._classes_of: dict[str, tuple[str, ...]] = {version: self.classes}
        self.max_rows, self.max_age_s = max_rows, max_age_days * 86_400
        self.batch, self.timeout_s = batch, timeout_s
        self._on_dropped = on_dropped or (lambda n: None)
        self._clock = clock
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._stopping = threading.Event()
        self._ended = threading.Event()  # set once the writer is done: the watchdog outlives its last write
        self._watchdog = None if self.backend.postgres else _Watchdog(self._ended)
        self._claims = ThreadPoolExecutor(CLAIM_THREADS, thread_name_prefix="mlobs-feedback-claim")
        self._local = threading.local()
        self._writer = threading.Thread(target=self._write_loop, name="mlobs-feedback-writer", daemon=True)
        self._writer.start()

    # -- the request path ---------------------------------------------------------------------
    def remember(self, request_id: str, classes, client: str) -> None:
        """Queue the predictions of one request for the writer; never waits (a full queue drops them)."""
        codes = [self._index[str(c)] for c in classes]
        try:
            self._queue.put_nowait((request_id, client, codes, self._clock()))
        except queue.Full:
            self._on_dropped(len(codes))

    async def aclaim(self, request_id: str, index: int, client: str, labeller: bool = False) -> Claim:
        """claim() on a store thread, waiting at most timeout_s; StoreUnavailable past it or on failure."""
        deadline = time.monotonic() + self.timeout_s
        future = self._claims.submit(self._claim_before, deadline, request_id, index, client, labeller)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout_s)
        except asyncio.TimeoutError:
            raise StoreUnavailable("the feedback store did not answer in time") from None

    def _claim_before(self, deadline: float, *args) -> Claim:
        # A claim still queued when its caller has already been answered 503 must not be made: the caller
        # would retry and meet a 409 for a label that was never counted.
        if time.monotonic() >= deadline:
            raise StoreUnavailable("the feedback store did not answer in time")
        return self.claim(*args)

    def claim(self, request_id: str, index: int, client: str, labeller: bool = False) -> Claim:
        """Mark one prediction as answered: one UPDATE, so at most one claim succeeds across all processes."""
        b = self.backend
        try:
            conn = self._connection()
            with self._limit(conn, self.timeout_s):
                row = conn.execute(b.sql(
                    f"UPDATE {TABLE} SET answered_at = ? WHERE model = ? AND request_id = ? AND idx = ? "
                    f"AND answered_at IS NULL AND (client = ? OR ?) RETURNING model_version, predicted"),
                    (self._clock(), self.model, request_id, index, client, bool(labeller))).fetchone()
                if row is not None:
                    return Claim(ACCEPTED, self._class_name(conn, row[0], row[1]), row[0])
                row = conn.execute(b.sql(f"SELECT client FROM {TABLE} WHERE model = ? AND request_id = ? "
                                         f"AND idx = ?"), (self.model, request_id, index)).fetchone()
        except Exception as exc:
            self._session().close()  # the next claim on this thread connects afresh
            raise StoreUnavailable(f"the feedback store failed: {type(exc).__name__}") from None
        if row is None:
            return Claim(UNKNOWN)
        if row[0] != client and not labeller:
            return Claim(FORBIDDEN)
        return Claim(DUPLICATE)

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = self.backend.session()
        return session

    def _connection(self):
        return self._session().conn()

    def _limit(self, conn, seconds: float):
        """A SQLite call on `conn` bounded to `seconds` (a PostgreSQL connection bounds its own waits)."""
        return nullcontext() if self._watchdog is None else self._watchdog.limit(conn, seconds)

    def _class_name(self, conn, version: str, code: int) -> str:
        classes = self._classes_of.get(version)
        if classes is None:
            row = conn.execute(self.backend.sql(
                f"SELECT classes FROM {CLASSES_TABLE} WHERE model = ? AND model_version = ?"),
                (self.model, version)).fetchone()
            classes = self._classes_of[version] = tuple(json.loads(row[0])) if row else ()
        return classes[code] if 0 <= code < len(classes) else f"class {code}"

    # -- the writer thread --------------------------------------------------------------------
    def _write_loop(self) -> None:
        bound = WRITE_TIMEOUTS * self.timeout_s
        session, prepared, backoff, pruned = self.backend.session(bound), None, 0.5, 0.0
        while not (self._stopping.is_set() and self._queue.empty()):
            items = self._take()
            taken = len(items)
            try:
                conn = session.conn()
                if conn is not prepared:  # a fresh connection: the first, or one replacing a dropped one
                    with self._limit(conn, bound):
                        self._prepare(conn)
                    prepared, backoff = conn, 0.5
                if items:
                    with self._limit(conn, bound):
                        self._insert(conn, items)
                    items = []  # written: a prune that fails next drops none of them
                if time.monotonic() - pruned >= PRUNE_EVERY_S and not self._stopping.is_set():
                    with self._limit(conn, bound):
                        self.prune(conn)
                    pruned = time.monotonic()
            except Exception as exc:
                dropped = sum(len(codes) for _, _, codes, _ in items)
                if dropped:
                    self._on_dropped(dropped)
                log.warning("feedback store unavailable (%s: %s); %d predictions dropped, retrying",
                            type(exc).__name__, exc, dropped)
                session.close()
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            for _ in range(taken):
                self._queue.task_done()
        session.close()

    def _take(self) -> list:
        try:
            items = [self._queue.get(timeout=0.5)]
        except queue.Empty:
            return []
        if self._queue.qsize() < self.batch and not self._stopping.is_set():
            # Let a busy service's next requests join this insert: one transaction for many, rather than a
            # transaction (and a GIL hand-over) per request.
            self._stopping.wait(LINGER_S)
        while len(items) < self.batch:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items

    def _wake(self) -> None:
        try:
            self._queue.put_nowait((None, None, [], 0.0))  # an empty request: the writer looks at _stopping
        except queue.Full:
            pass

    def _prepare(self, conn) -> None:
        for statement in _schema(self.backend.postgres):
            try:
                conn.execute(statement)
            except Exception:
                # Two replicas creating the table at once: PostgreSQL may refuse the slower one. It exists now.
                if not self.backend.postgres:
                    raise
        conn.execute(self.backend.sql(
            f"INSERT INTO {CLASSES_TABLE} (model, model_version, classes) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"),
            (self.model, self.version, json.dumps(list(self.classes))))

    def _insert(self, conn, items: list) -> None:
        rows = [(self.model, request_id, i, client, self.version, code, at)
                for request_id, client, codes, at in items for i, code in enumerate(codes)]
        if not rows:
            return
        statement = self.backend.sql(
            f"INSERT INTO {TABLE} (model, request_id, idx, client, model_version, predicted, created_at) "
            f"VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
        if self.backend.postgres:
            with conn.transaction():
                conn.cursor().executemany(statement, rows)
        else:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(statement, rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def prune(self, conn=None) -> int:
        """Delete the oldest rows past max_rows and those older than max_age_days, a chunk at a time."""
        conn = conn or self._connection()
        sql, deleted = self.backend.sql, 0
        top = conn.execute(f"SELECT max(seq) FROM {TABLE}").fetchone()[0]
        if top is not None and top > self.max_rows:
            # Sequence numbers only grow, so at most max_rows rows have one above top - max_rows.
            deleted += self._delete_chunks(conn, sql(f"DELETE FROM {TABLE} WHERE seq IN (SELECT seq FROM {TABLE} "
                                                     f"WHERE seq <= ? ORDER BY seq LIMIT {PRUNE_CHUNK})"),
                                           (top - self.max_rows,))
        # By age, from the oldest rows by sequence (the primary key) and stopping at the first chunk that is not
        # all expired: a filter on created_at alone would scan the whole table when nothing has expired.
        deleted += self._delete_chunks(conn, sql(f"DELETE FROM {TABLE} WHERE seq IN (SELECT seq FROM {TABLE} "
                                                 f"ORDER BY seq LIMIT {PRUNE_CHUNK}) AND created_at < ?"),
                                       (self._clock() - self.max_age_s,))
        return deleted

    @staticmethod
    def _delete_chunks(conn, statement: str, params: tuple) -> int:
        total = 0
        while True:
            n = conn.execute(statement, params).rowcount
            total += max(n, 0)
            if n < PRUNE_CHUNK:
                return total

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until the queued predictions have been written (or dropped): for tests and shutdown."""
        end = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < end:
            time.sleep(0.01)

    def close(self) -> None:
        self._stopping.set()
        self._wake()
        self._writer.join(timeout=self.timeout_s + 1)
        self._ended.set()
        self._claims.shutdown(wait=False, cancel_futures=True)

    def __len__(self) -> int:
        return self._connection().execute(self.backend.sql(f"SELECT count(*) FROM {TABLE} WHERE model = ?"),
                                          (self.model,)).fetchone()[0]


def _close(conn) -> None:
    if conn is not None:
        try:
            conn.close()
        except Exception:
            pass
