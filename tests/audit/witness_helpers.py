"""A log served through its witness endpoints, and a witness polling it in-process."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import SecretStr
from starlette.testclient import TestClient

from mlobs.audit.http import audit_router
from mlobs.audit.witness.service import Witness
from mlobs.audit.witness.settings import WitnessSettings

TOKEN = "witness-token-for-tests"


def log_app(store_url: str, token: str | None = TOKEN) -> FastAPI:
    app = FastAPI()
    app.include_router(audit_router(store_url, SecretStr(token) if token else None))
    return app


def witness_for(app: FastAPI, log_public_key, directory, **kw) -> Witness:
    settings = WitnessSettings(source_url="http://log", token=SecretStr(TOKEN), log_public_key=log_public_key,
                               dir=directory)
    return Witness(settings, client=TestClient(app, base_url="http://log"), **kw)


def witnessed_at(log, store_url: str, audit_settings, directory, sizes=(10, 20, 30)) -> Witness:
    """A witness that cosigned the log at each of `sizes` (decisions appended up to each, then signed)."""
    from audit.factories import decision

    witness = witness_for(log_app(store_url), audit_settings.keys_dir / "checkpoint_signing.pub.pem", directory)
    done = 0
    for size in sizes:
        for i in range(done, size):
            log.append(decision(i))
        done = size
        log.checkpoint()
        assert witness.poll().size == size
    return witness


def signed_store(directory, sizes, origin: str = "mlobs.test/audit"):
    """A witness directory holding a checkpoint of each of `sizes`, signed by a new log key and cosigned
    by the directory's witness key, line for line as a witness keeps them; returns the log key's PEM path."""
    import orjson
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from mlobs.audit.checkpoint_note import NoteSigner, TreeHead, cosign
    from mlobs.audit.keys.signing import public_key_pem
    from mlobs.audit.witness.store import COSIGNED, WitnessStore

    store = WitnessStore(directory)
    log_key = Ed25519PrivateKey.generate()
    pem = directory / "log.pub.pem"
    pem.write_bytes(public_key_pem(log_key.public_key()))
    signer = NoteSigner(origin, log_key)
    with open(directory / COSIGNED, "ab") as out:
        for size in sizes:
            note = signer.sign(TreeHead(origin, size, size.to_bytes(32, "big")))
            out.write(orjson.dumps({"size": size, "note": cosign(note, "mlobs.local/witness", store.private,
                                                                 1_700_000_000 + size)}) + b"\n")
    return pem


def grow(log, start: int, end: int) -> None:
    """Decisions `start` to `end` - 1 appended, then a checkpoint signed over them."""
    from audit.factories import decision

    for i in range(start, end):
        log.append(decision(i))
    log.checkpoint()


def pinned_key(audit_settings, directory):
    """A copy of the log's public key as it is now, as a witness pins it (the log's own file changes when
    its key rotates)."""
    import shutil

    pinned = directory / "pinned.pub.pem"
    shutil.copyfile(audit_settings.keys_dir / "checkpoint_signing.pub.pem", pinned)
    return pinned
