"""`mlobs serve audit-witness`: fetch, verify, cosign and keep the log's checkpoints.

Every interval it asks the log for its latest signed checkpoint and, when the tree grew, for a
consistency proof from the last checkpoint it cosigned. It cosigns only a checkpoint signed by
the log's key (configured here, never fetched) and consistent with everything it cosigned
before; a smaller tree (rollback), another root at the same size (split view) or a failed proof
is refused, logged and counted, and the witness keeps its last good checkpoint.

    GET /checkpoints        {"notes": [...]}: every cosigned checkpoint, oldest first
    GET /checkpoint         the latest cosigned checkpoint (text/plain)
    GET /healthz            {"ok", "size", "refused", "last_error"}
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, HTTPException
from fastapi.responses import PlainTextResponse

from mlobs.audit.checkpoint_note import NoteError, TreeHead, cosign, open_checkpoint
from mlobs.audit.merkle import ProofError, verify_consistency
from mlobs.audit.keys.signing import load_public_key
from mlobs.audit.witness.settings import WitnessSettings
from mlobs.audit.witness.store import WitnessStore

log = logging.getLogger("mlobs.audit.witness")


class Witness:
    def __init__(self, settings: WitnessSettings, client: httpx.Client | None = None) -> None:
        if not settings.source_url or settings.log_public_key is None or settings.token is None:
            raise SystemExit("audit-witness needs MLOBS_AUDIT_WITNESS__SOURCE_URL, __TOKEN and __LOG_PUBLIC_KEY")
        self.settings = settings
        self.log_key = load_public_key(settings.log_public_key)
        self.store = WitnessStore(settings.dir)
        self.client = client or httpx.Client(base_url=settings.source_url, timeout=settings.timeout_s)
        self._headers = {"Authorization": f"Bearer {settings.token.get_secret_value()}"}
        latest = self.store.latest()
        self.head: TreeHead | None = open_checkpoint(latest, self.log_key) if latest else None
        self.refused = 0
        self.last_error: str | None = None

    def poll(self) -> TreeHead | None:
        """One round: returns the newly cosigned head, or None. Raises nothing."""
        try:
            return self._poll()
        except (httpx.HTTPError, NoteError, ProofError, ValueError, KeyError) as exc:
            self.refused += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.error("witness: checkpoint refused: %s", self.last_error)
            return None

    def _poll(self) -> TreeHead | None:
        response = self.client.get("/audit/checkpoint", headers=self._headers)
        if response.status_code == 404:
            return None  # nothing signed yet
        response.raise_for_status()
        note = response.text
        head = open_checkpoint(note, self.log_key)
        old = self.head
        if old is not None:
            if head.size < old.size:
                raise ValueError(
                    f"the log's tree shrank from {old.size} to {head.size} records (rollback or truncation)"
                )
            if head.size == old.size:
                if head.root != old.root:
                    raise ValueError(f"split view: a second signed tree of size {head.size} with another root")
                return None
            proof = self.client.get("/audit/consistency", params={"from": old.size, "to": head.size},
                                    headers=self._headers)
            proof.raise_for_status()
            hashes = [base64.b64decode(h) for h in proof.json()["proof"]]
            verify_consistency(old.size, head.size, old.root, head.root, hashes)
        cosigned = cosign(note, self.settings.name, self.store.private, int(time.time()))
        self.store.keep(head.size, cosigned)
        self.head = head
        self.last_error = None
        return head


def create_app(settings) -> FastAPI:
    witness = Witness(settings.audit_witness)

    async def loop() -> None:
        while True:
            await asyncio.to_thread(witness.poll)
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
    def checkpoints() -> dict:
        return {"notes": witness.store.notes()}

    @app.get("/checkpoint", response_class=PlainTextResponse)
    def checkpoint() -> PlainTextResponse:
        latest = witness.store.latest()
        if latest is None:
            raise HTTPException(404, "nothing cosigned yet")
        return PlainTextResponse(latest, media_type="text/plain; charset=utf-8")

    @app.get("/healthz")
    def healthz() -> dict:
        return {"ok": witness.last_error is None, "size": witness.head.size if witness.head else 0,
                "refused": witness.refused, "last_error": witness.last_error}

    return app
