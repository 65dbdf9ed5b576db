"""The log's endpoints for witnesses: its latest signed checkpoint and consistency proofs.

    GET /audit/checkpoint                 the latest signed checkpoint (C2SP note, text/plain)
    GET /audit/consistency?from=M&to=N    {"from", "to", "proof": [base64 hashes]} (RFC 9162)
    GET /audit/rotations?after=N          {"rotations": [...]}: each key rotation record at leaf N or later,
                                          with the first checkpoint covering it and its inclusion proof
                                          (mlobs.audit.keys.key_rotation.followed_key checks one)

Both need `Authorization: Bearer <MLOBS_AUDIT__WITNESS_TOKEN>`; with no token configured they
refuse every request. They read the store on a read-only connection of their own.
"""

from __future__ import annotations

import base64
import contextlib

from fastapi import APIRouter, Depends, Header, HTTPException, Query
from fastapi.responses import PlainTextResponse
from pydantic import SecretStr

from mlobs.tokens import bearer_matches, expected_bearer
from mlobs.audit.errors import AuditError
from mlobs.audit.merkle import ProofError, consistency_proof, inclusion_proof
from mlobs.audit.storage.tree_store import TreeMissing, _text, open_reader, rotation_records

MAX_SIZE = 2**63 - 1  # the largest tree size a store's integer column holds; larger is a 422, not a 500
MAX_ROTATIONS = 16  # per answer: a witness asks again from the last one it followed


def audit_router(store_url: str, token: SecretStr | None, store_timeout_s: float = 10.0) -> APIRouter:
    def authorized(authorization: str | None = Header(None)) -> None:
        if token is None or not token.get_secret_value().strip():
            raise HTTPException(403, "witness endpoints are off: set MLOBS_AUDIT__WITNESS_TOKEN")
        if not bearer_matches(authorization, expected_bearer(token)):
            raise HTTPException(401, "a witness token is needed", headers={"WWW-Authenticate": "Bearer"})

    router = APIRouter(prefix="/audit", dependencies=[Depends(authorized)])

    @contextlib.contextmanager
    def reading():
        """A reader of the store for one answer; a store that does not answer in time is a 503 (the
        witness asks again next round), never a 500 with a traceback per request."""
        try:
            reader, close = open_reader(store_url, timeout_s=store_timeout_s)
            try:
                yield reader
            finally:
                close()
        except AuditError as exc:
            raise HTTPException(503, f"the audit store did not answer: {exc}") from None

    @router.get("/checkpoint", response_class=PlainTextResponse)
    def checkpoint() -> PlainTextResponse:
        with reading() as reader:
            latest = reader.latest_note()
        if latest is None:
            raise HTTPException(404, "no signed checkpoint yet")
        return PlainTextResponse(latest[1], media_type="text/plain; charset=utf-8")

    @router.get("/consistency")
    def consistency(first: int = Query(..., alias="from", gt=0, le=MAX_SIZE),
                    to: int = Query(..., gt=0, le=MAX_SIZE)) -> dict:
        with reading() as reader:
            try:
                if reader.note_covering(to) is None or reader.head()[0] < to:
                    raise HTTPException(404, f"no signed tree of size {to}")
                proof = consistency_proof(reader.subtree, first, to)
            except (ProofError, TreeMissing) as exc:
                raise HTTPException(400, str(exc)) from None
        return {"from": first, "to": to, "proof": [base64.b64encode(h).decode() for h in proof]}

    @router.get("/rotations")
    def rotations(after: int = Query(0, ge=0, le=MAX_SIZE)) -> dict:
        found = []
        with reading() as reader:
            try:
                for seq, header, payload in rotation_records(reader, store_url.startswith("sqlite:///"), after,
                                                             MAX_ROTATIONS):
                    covering = reader.note_covering(seq)
                    if covering is None:
                        break  # not signed yet: the old key signs a head covering it before the new key signs any
                    size, note = covering
                    found.append({"leaf_index": seq - 1, "header": _text(header), "payload": _text(payload),
                                  "tree_size": size, "checkpoint": note,
                                  "inclusion": [base64.b64encode(h).decode()
                                                for h in inclusion_proof(reader.subtree, seq - 1, size)]})
            except (ProofError, TreeMissing) as exc:
                raise HTTPException(400, str(exc)) from None
        return {"rotations": found}

    return router
