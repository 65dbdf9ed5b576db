"""`mlobs serve audit-witness`: fetch, verify, cosign and keep the log's checkpoints.

Every interval it asks the log for its latest signed checkpoint and, when the tree grew, for a
consistency proof from the last checkpoint it cosigned. It cosigns only a checkpoint signed by
the log's key (configured here, never fetched) and consistent with everything it cosigned
before; a smaller tree (rollback), another root at the same size (split view) or a failed proof
is refused, logged and counted, and the witness keeps its last good checkpoint.

A checkpoint the key does not open may follow a key rotation: the witness then asks for the
rotation's evidence (GET /audit/rotations) and trusts the new key only if the key it trusts signed
both the statement naming it and a checkpoint, consistent with its history, that includes the
rotation record. From then on the old key opens nothing, so a leaked one cannot sign a new head.

    GET /checkpoint         the latest cosigned checkpoint (text/plain): what `verify --witness URL` reads
    GET /checkpoints?from=SIZE&limit=N
                            {"notes": [...], "next": SIZE2}: at most N (default and at most 1,000) cosigned
                            checkpoints of trees of SIZE (default 0) records or more, oldest first, found by
                            bisection of the store (`prove --witness URL` reads the first covering its record).
                            "next" is there when more follow: ask again with from=SIZE2 for the next page.
                            Without parameters, the first page: a client pages through the whole history
                            oldest first by following "next" until an answer has none; every answer is
                            bounded (a thousand checkpoints, about 0.5 MB), however long the history.
    GET /healthz            200, or 503 once no round has reached and verified the log for stale_after_s:
                            {"ok", "size", "refused", "last_error", "last_success_age_s", "stale_after_s"}
    GET /livez              200 while the process serves (restarting it would not bring a log back)
    GET /metrics            mlobs.audit.witness.catalog
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from contextlib import asynccontextmanager

import httpx
import orjson
from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from mlobs.audit.checkpoint_note import (
    NoteError,
    TreeHead,
    cosign,
    key_id,
    open_checkpoint,
    split,
    verify_cosignature,
)
from mlobs.audit.keys.key_rotation import followed_key
from mlobs.audit.keys.signing import load_public_key
from mlobs.audit.merkle import ProofError, verify_consistency
from mlobs.audit import volumes
from mlobs.audit.witness import catalog
from mlobs.audit.witness.settings import WitnessSettings
from mlobs.audit.witness.store import COSIGNED, ROTATIONS, NotKept, WitnessStore
from mlobs import http_deadline
from mlobs.metrics import make

log = logging.getLogger("mlobs.audit.witness")
SERVICE = "audit-witness"  # its name in `mlobs serve`, and the service label of its metrics
MAX_ANSWER = 64 * 1024  # bytes: a checkpoint with 100 cosignatures, or a proof of 64 hashes, is far less
MAX_PAGE = 1000  # cosigned checkpoints in one answer to /checkpoints: about 0.5 MB of one log's checkpoints


class Refused(ValueError):
    """A checkpoint the witness will not cosign, with its reason (mlobs.audit.witness.catalog.REASONS)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Witness:
    def __init__(self, settings: WitnessSettings, client: httpx.Client | None = None,
                 registry: CollectorRegistry | None = None, clock=time.monotonic) -> None:
        if (not settings.source_url or settings.log_public_key is None or settings.token is None
                or not settings.token.get_secret_value().strip()):
            raise SystemExit("audit-witness needs MLOBS_AUDIT_WITNESS__SOURCE_URL, __TOKEN and __LOG_PUBLIC_KEY")
        self.settings = settings
        self.log_key = load_public_key(settings.log_public_key)
        self.store = WitnessStore(settings.dir)
        self._followed = 0  # leaves of the log up to the last key rotation followed
        self.client = client or http_deadline.client(base_url=settings.source_url, timeout=settings.timeout_s)
        self._headers = {"Authorization": f"Bearer {settings.token.get_secret_value()}"}
        self.head: TreeHead | None = self._checked_store()
        self.refused = 0
        self.last_error: str | None = None
        self._clock = clock
        self._last_success = clock()  # a witness that never got through is as stale as its uptime
        self.registry = registry if registry is not None else CollectorRegistry()
        self._cosigned = make(catalog.WITNESS_COSIGNED, self.registry)
        self._refusals = make(catalog.WITNESS_REFUSALS, self.registry)
        for reason in catalog.REASONS:  # every reason from 0, so that increase() sees the first refusal
            self._refusals.labels(reason)
        self._size = make(catalog.WITNESS_TREE_SIZE, self.registry)
        self._size.set(self.head.size if self.head else 0)
        self._success_time = make(catalog.WITNESS_LAST_SUCCESS, self.registry)
        self._success_time.set(time.time())
        make(catalog.WITNESS_HEALTHY, self.registry).set_function(lambda: float(self.healthy()))
        # Its history grows by a line (about 0.5 KB) a poll while the log grows: the audit volume alerts
        # watch its filesystem as they watch the log's.
        volumes.export(self.registry, SERVICE, {"witness": self.store.dir})

    def _checked_store(self) -> TreeHead | None:
        """The last head this witness cosigned, from a store checked at a cost that does not grow with its
        history in signature checks (one line a poll: millions a year). At start:

        - every kept key rotation is followed in order from the configured key (`followed_key`: the
          trusted key signed the statement naming the next key, and a checkpoint including the rotation
          record), giving the keys the log signed with: a handful, however long the history;
        - one pass over cosigned.jsonl without cryptography (`read_head`): each line a {"size", "note"}
          whose note states that size, the sizes strictly increasing. So the last line is the largest tree
          the file records: an older checkpoint appended after it, which would otherwise become the head
          after a restart and make the rollback to it look consistent, stops the start;
        - the last line: signed by one of those keys (the last checkpoint may precede a rotation followed
          after it, or be signed by a key rotated to), of the size it is kept under, and cosigned by this
          witness. It is the head the witness resumes from: every later checkpoint must extend it.

        That is enough because the witness's safety depends on that head alone: it never reads the other
        lines again. A line edited in the middle changes no decision of the witness; whoever reads it
        (`prove --witness`, `/checkpoints?from=`) checks its log signature and, with `check-proof
        --witness-key`, its cosignature, and refuses it. What no check of the directory can catch is a
        file cut back, or rewritten consistently, by someone who can write it: keep it off the log's host."""
        try:
            rotations = self.store.rotations()
            kept = self.store.head()
        except ValueError as exc:  # a line that is not what the witness writes, or out of order: named
            raise SystemExit(f"audit-witness: {exc}") from None
        keys = [self.log_key]
        try:
            for evidence in rotations:
                self._trust(evidence)
                keys.append(self.log_key)
        except (ValueError, KeyError, TypeError) as exc:  # NoteError and ProofError among them
            raise SystemExit(f"audit-witness: {self.store.dir / ROTATIONS}: {exc} (the file was edited)") from None
        if kept is None:
            return None
        where = f"{self.store.dir / COSIGNED} line {kept.line}"
        try:
            head = _opened(kept.note, keys)
            verify_cosignature(kept.note, self.store.private.public_key())
        except NoteError as exc:
            raise SystemExit(f"audit-witness: {where}: {exc} (the file was edited)") from None
        if head.size != kept.size:
            raise SystemExit(f"audit-witness: {where}: a checkpoint of tree size {head.size} kept as one of "
                             f"{kept.size} (the file was edited)")
        return head

    def _trust(self, evidence: dict) -> None:
        """Follow one key rotation kept in the store: from its evidence, the key the trusted one rotated to."""
        _, new = followed_key(evidence, self.log_key)
        self._adopt(new, evidence)

    def _adopt(self, key, evidence: dict) -> None:
        self.log_key = key
        self._followed = int(evidence["leaf_index"]) + 1

    def poll(self) -> TreeHead | None:
        """One round: returns the newly cosigned head, or None. Raises nothing."""
        try:
            head = self._poll()
        except (httpx.HTTPError, NoteError, ProofError, ValueError, KeyError, TypeError, OSError, NotKept) as exc:
            self.refused += 1
            self._refusals.labels(_reason(exc)).inc()
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.error("witness: checkpoint refused: %s", self.last_error)
            return None
        self._last_success = self._clock()
        self._success_time.set(time.time())
        self.last_error = None
        return head

    def last_success_age(self) -> float:
        """Seconds since a round last reached the log and verified what it served (or since the start)."""
        return max(0.0, self._clock() - self._last_success)

    def healthy(self) -> bool:
        return self.last_success_age() <= self.settings.stale_after_s

    def _get(self, path: str, params: dict | None = None) -> tuple[int, bytes]:
        """(status, body) of a request to the log, reading at most MAX_ANSWER bytes: the log is what a
        witness distrusts, and a checkpoint or proof of any real log is a few kilobytes. The answer, head
        and body, comes within timeout_s in all (httpx's timeout bounds each read: a log sending a byte at
        a time just inside it would otherwise hold the round for as long as it goes on)."""
        timeout = self.settings.timeout_s
        try:
            with http_deadline.within(timeout), \
                    self.client.stream("GET", path, params=params, headers=self._headers) as response:
                deadline = time.monotonic() + timeout
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER:
                        raise ValueError(f"the log's answer to {path} is over {MAX_ANSWER} bytes")
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("")
                if response.status_code != 404:
                    response.raise_for_status()
                return response.status_code, bytes(body)
        except httpx.TimeoutException:
            raise httpx.ReadTimeout(f"the log's answer to {path} took over {timeout:g} s") from None

    def _poll(self) -> TreeHead | None:
        status, body = self._get("/audit/checkpoint")
        if status == 404:
            return None  # nothing signed yet
        note = body.decode("utf-8")
        try:
            head = open_checkpoint(note, self.log_key)
        except NoteError:
            if not self._follow_rotations():
                raise
            head = open_checkpoint(note, self.log_key)
        return self._accept(note, head)

    def _follow_rotations(self) -> bool:
        """Follow every key rotation the log shows evidence of past the last one followed; whether any was."""
        status, body = self._get("/audit/rotations", {"after": self._followed})
        if status == 404:
            return False
        followed = False
        for evidence in orjson.loads(body)["rotations"]:
            head, new = followed_key(evidence, self.log_key)
            self._in_history(head)
            self.store.keep_rotation(evidence, self._followed - 1 if self._followed else None)
            self._adopt(new, evidence)
            followed = True
        return followed

    def _in_history(self, head: TreeHead) -> None:
        """The rotation's checkpoint is part of what this witness cosigned, or extends it consistently."""
        old = self.head
        if old is None:
            return
        first, second = (head, old) if head.size <= old.size else (old, head)
        if first.size == second.size:
            if first.root != second.root:
                raise Refused(catalog.SPLIT_VIEW, f"split view: the key rotation's tree of size {head.size} "
                                                  "has another root than the one cosigned")
            return
        self._consistent(first, second)

    def _consistent(self, first: TreeHead, second: TreeHead) -> None:
        """Raises unless the log proves the larger tree `second` extends `first`."""
        status, body = self._get("/audit/consistency", {"from": first.size, "to": second.size})
        if status == 404:
            raise ValueError(f"the log has no consistency proof to its own checkpoint of size {second.size}")
        hashes = [base64.b64decode(h) for h in orjson.loads(body)["proof"]]
        verify_consistency(first.size, second.size, first.root, second.root, hashes)

    def _accept(self, note: str, head: TreeHead) -> TreeHead | None:
        old = self.head
        if old is not None:
            if head.size < old.size:
                raise Refused(catalog.ROLLBACK,
                              f"the log's tree shrank from {old.size} to {head.size} records (rollback or truncation)")
            if head.size == old.size:
                if head.root != old.root:
                    raise Refused(catalog.SPLIT_VIEW,
                                  f"split view: a second signed tree of size {head.size} with another root")
                return None
            self._consistent(old, head)
        cosigned = cosign(note, self.settings.name, self.store.private, int(time.time()))
        self.store.keep(head.size, cosigned, old.size if old is not None else None)
        self.head = head
        self._cosigned.inc()
        self._size.set(head.size)
        return head


def _opened(note: str, keys: list) -> TreeHead:
    """The tree head of `note`, opened with whichever of `keys` (the configured one, then each rotated to)
    signed it; raises NoteError as `open_checkpoint` does with the newest if none did."""
    body, signatures = split(note)
    origin = TreeHead.parse(body).origin
    for key in reversed(keys):
        if any(s.name == origin and s.key_id == key_id(origin, key) for s in signatures):
            return open_checkpoint(note, key)
    return open_checkpoint(note, keys[-1])


def _reason(exc: Exception) -> str:
    if isinstance(exc, Refused):
        return exc.reason
    if isinstance(exc, httpx.HTTPError):  # transport errors and error statuses alike
        return catalog.UNREACHABLE
    if isinstance(exc, ProofError):
        return catalog.INCONSISTENT
    if isinstance(exc, (OSError, NotKept)):  # after httpx's: its transport errors are not OSErrors
        return catalog.UNKEPT
    return catalog.INVALID  # NoteError, or a proof answer that is not the JSON of base64 hashes it should be


def _read(reader, *args):
    """A read of the witness's history, or a 500 naming what in it does not check (it was edited)."""
    try:
        return reader(*args)
    except ValueError as exc:
        log.error("witness: its history does not check: %s", exc)
        raise HTTPException(500, f"the witness's history does not check: {exc}") from None


def create_app(settings) -> FastAPI:
    witness = Witness(settings.audit_witness)

    async def loop() -> None:
        while True:
            try:
                await asyncio.to_thread(witness.poll)
            except Exception:  # poll raises nothing it expects; anything else must not end the polling
                log.exception("witness: poll failed")
            await asyncio.sleep(witness.settings.interval_s)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()

    app = FastAPI(title="mlobs audit witness", lifespan=lifespan)

    @app.get("/checkpoints")
    def checkpoints(start: int | None = Query(None, alias="from", ge=0, lt=2**63),
                    limit: int | None = Query(None, ge=1, le=MAX_PAGE)) -> dict:
        want = limit or MAX_PAGE
        page = _read(witness.store.page, start or 0, want + 1)  # one more: whether a next page exists
        answer: dict = {"notes": [entry["note"] for entry in page[:want]]}
        if len(page) > want:
            answer["next"] = page[want - 1]["size"] + 1
        return answer

    @app.get("/checkpoint", response_class=PlainTextResponse)
    def checkpoint() -> PlainTextResponse:
        latest = _read(witness.store.latest)
        if latest is None:
            raise HTTPException(404, "nothing cosigned yet")
        return PlainTextResponse(latest, media_type="text/plain; charset=utf-8")

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        ok = witness.healthy()
        return JSONResponse({"ok": ok, "size": witness.head.size if witness.head else 0, "refused": witness.refused,
                             "last_error": witness.last_error,
                             "last_success_age_s": round(witness.last_success_age(), 3),
                             "stale_after_s": witness.settings.stale_after_s}, status_code=200 if ok else 503)

    @app.get("/livez")
    def livez() -> dict:
        return {"status": "alive"}

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(witness.registry), media_type=CONTENT_TYPE_LATEST)

    return app
