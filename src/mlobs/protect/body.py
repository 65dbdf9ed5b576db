"""A request body read under a byte limit, for endpoints outside the endpoint protection (the drift
exporter's ingest, the on-call receiver): refused once its declared length or its stream passes the
limit, so an oversized body is never held in memory."""

from __future__ import annotations

from starlette.requests import Request


async def body_within(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as its declared length or the bytes received so far pass `limit`."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)
