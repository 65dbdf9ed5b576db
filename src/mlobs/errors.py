"""Refused inputs: a clear JSON error, a 4xx, and a count by reason. Never a 500, never the payload echoed."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from mlobs.metrics import ServiceMetrics


class InputRejected(Exception):
    def __init__(self, code: str, message: str, status_code: int = 422):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status_code = status_code


class Unavailable(Exception):
    """The service cannot answer safely right now (e.g. the audit log is down): a 503."""

    status_code = 503

    def __init__(self, code: str, message: str, retry_after: int = 1):
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after


# pydantic error types -> rejection reasons shared by every service.
_REASONS = {
    "json_invalid": "invalid_json",
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "string_too_short": "empty",
    "string_too_long": "too_long",
    "too_short": "empty",
    "too_long": "batch_too_large",
    "model_attributes_type": "wrong_type",
    "greater_than": "out_of_range",
    "greater_than_equal": "out_of_range",
    "less_than": "out_of_range",
    "less_than_equal": "out_of_range",
    "literal_error": "unknown_category",
    "enum": "unknown_category",
    "string_pattern_mismatch": "invalid_format",
    "implausible_date": "implausible_date",
    "inconsistent_age": "inconsistent_age",
}


def reason_for(error: dict) -> str:
    kind = error.get("type", "")
    if kind in _REASONS:
        return _REASONS[kind]
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return "wrong_type"
    return "invalid"


def error_body(code: str, message: str, details: list | None = None) -> dict:
    body = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return body


def install_handlers(app: FastAPI, metrics: ServiceMetrics | None) -> None:
    def count(reason: str) -> None:
        if metrics is not None:
            metrics.rejected(reason).inc()

    async def rejected(request: Request, exc: InputRejected) -> JSONResponse:
        count(exc.code)
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status_code)

    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        code = reason_for(errors[0]) if errors else "invalid"
        count(code)
        # Location and message only: pydantic's "input" would echo personal data back.
        details = [{"loc": [str(p) for p in e.get("loc", ())], "message": e.get("msg", "")} for e in errors[:10]]
        first = details[0] if details else {"loc": [], "message": "invalid request"}
        where = ".".join(p for p in first["loc"] if p != "body") or "body"
        return JSONResponse(error_body(code, f"{where}: {first['message']}", details), status_code=422)

    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error")
        if exc.status_code == 400:  # a body FastAPI could not parse (too deeply nested, not UTF-8): an input refused
            count(code)
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    async def unavailable(request: Request, exc: Unavailable) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status_code,
                            headers={"Retry-After": str(exc.retry_after)})

    app.add_exception_handler(InputRejected, rejected)
    app.add_exception_handler(Unavailable, unavailable)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)


def install_server_error_handler(app: FastAPI) -> None:
    import logging

    log = logging.getLogger("mlobs.errors")

    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(error_body("internal", "internal error"), status_code=500)

    app.add_exception_handler(Exception, server_error)
