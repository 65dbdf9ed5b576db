"""ProtectMiddleware (pure ASGI): security headers, API keys, per-client limits, body limit, budget.

Order on each request: headers are added to whatever is answered; open paths pass; then the key
(401), the client's in-flight cap and token bucket (429 + Retry-After), the declared body size
(413 before reading), then the app with a receive wrapper that counts (413 mid-stream; a JSON body
is read whole first and refused with 422 when a key repeats), under the request budget (504).
Rejections cost no body read and no model call.
"""

from __future__ import annotations

import asyncio

import orjson
from starlette.exceptions import HTTPException

from mlobs.errors import error_body
from mlobs.protect.client import current_client
from mlobs.protect.strictjson import DuplicateKey, has_duplicate_key, is_json

SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
# An HTML page the app serves itself (FastAPI's /docs loads its script and styles from a CDN) gets
# the same headers but a policy that only forbids framing: `default-src 'none'` would blank it.
HTML_SECURITY_HEADERS = tuple(
    (name, b"frame-ancestors 'none'") if name == b"content-security-policy" else (name, value)
    for name, value in SECURITY_HEADERS
)
_SECURITY_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)
# The stack reaches these without a client key: Prometheus scrapes and orchestrator probes carry no
# client identity, and they answer no model output and no personal data. Restrict them by network.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"the body may have at most {limit} bytes")


class ProtectMiddleware:
    def __init__(self, app, protection):
        self.app = app
        self.p = protection

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_secured(message):
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = [h for h in message.get("headers", ()) if h[0].lower() not in _SECURITY_NAMES]
                headers.extend(HTML_SECURITY_HEADERS if _is_html(headers) else SECURITY_HEADERS)
                message["headers"] = headers
            await send(message)

        status = 500
        if scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send_secured)
            return
        p = self.p
        headers = scope["headers"]
        retry_after = p.throttled(scope)
        if retry_after:
            await _answer(send_secured, 429, "auth_throttled",
                          "too many failed authentications from this address; retry later",
                          [(b"retry-after", str(retry_after).encode())])
            return
        client = p.authenticate(headers, scope)
        if client is None:
            await _answer(send_secured, 401, "unauthorized", "a valid API key is required (Authorization: Bearer)",
                          [(b"www-authenticate", b'Bearer realm="mlobs"')])
            return
        limit, retry_after = p.admit(client)
        if limit is not None:
            await _answer(send_secured, 429, "rate_limited", f"too many requests ({limit} limit); retry later",
                          [(b"retry-after", str(retry_after).encode())])
            p.metrics.request(client, 429).inc()
            return
        try:
            max_bytes = p.body_limit(headers)
            declared = _content_length(headers)
            if declared is not None and declared < 0:
                await _answer(send_secured, 400, "invalid_content_length", "Content-Length is not a valid size")
                p.count_rejected("invalid_content_length")
                status = 400
                return
            if declared is not None and declared > max_bytes:
                await _answer(send_secured, 413, "too_large", f"the body may have at most {max_bytes} bytes")
                p.count_rejected("too_large")
                status = 413
                return
            seen = 0
            json_body = _is_json(headers)

            async def receive_counted():
                nonlocal seen
                message = await receive()
                if message["type"] == "http.request":
                    chunk = message.get("body", b"")
                    seen += len(chunk)
                    if seen > max_bytes:
                        raise BodyTooLarge(max_bytes)
                return message

            token = current_client.set(client)
            scope.setdefault("state", {})["client_id"] = client
            try:
                async with asyncio.timeout(p.timeout_s):
                    # A JSON body is read whole (the parser needs all of it anyway) and checked
                    # before the app sees it: frameworks turn errors raised while reading into a 400.
                    app_receive = await _checked_json(receive_counted) if json_body else receive_counted
                    await self.app(scope, app_receive, send_secured)
            except TimeoutError:
                if started:
                    raise
                p.metrics.timeout(client).inc()
                await _answer(send_secured, 504, "timeout", "the request ran over its time budget; retry later",
                              [(b"retry-after", b"1")])
            except BodyTooLarge:
                if started:
                    raise
                await _answer(send_secured, 413, "too_large", f"the body may have at most {max_bytes} bytes")
                p.count_rejected("too_large")
            except DuplicateKey as exc:
                await _answer(send_secured, 422, exc.code, exc.message)
                p.count_rejected(exc.code)
            except Exception:
                # Answer here so the 500 carries the security headers too; the outer server error
                # handler still logs the exception and sees the response started, so sends nothing.
                if not started:
                    await _answer(send_secured, 500, "internal", "internal error")
                raise
            finally:
                current_client.reset(token)
        finally:
            p.release(client)
            p.metrics.request(client, status).inc()


def _is_html(headers) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.lower().startswith(b"text/html")
    return False


async def _checked_json(receive):
    """Read the whole body now and refuse it (DuplicateKey) if an object repeats a key; the returned
    receive hands the body over as one message, then passes on."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            first = [message]
            break
        body.extend(message.get("body", b""))
        if not message.get("more_body", False):
            whole = bytes(body)
            if has_duplicate_key(whole):
                raise DuplicateKey()
            first = [{"type": "http.request", "body": whole, "more_body": False}]
            break

    async def replay():
        return first.pop() if first else await receive()

    return replay


def _is_json(headers) -> bool:
    for name, value in headers:
        if name == b"content-type":
            return is_json(value)
    return False


def _content_length(headers) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


async def _answer(send, status: int, code: str, message: str, extra=()) -> None:
    body = orjson.dumps(error_body(code, message))
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})
