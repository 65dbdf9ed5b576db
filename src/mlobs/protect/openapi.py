"""Declare the JSON error answers in the OpenAPI document, so clients (and schemathesis) can rely on them."""

from __future__ import annotations

from mlobs.protect.middleware import OPEN_PATHS

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {"type": "object", "properties": {
                "loc": {"type": "array", "items": {"type": "string"}}, "message": {"type": "string"}}}},
        },
    }},
}
# The documented refusals of a protected endpoint (see docs/protection.md).
PROTECTED_ERRORS = {
    "400": "Malformed request (e.g. an invalid Content-Length)",
    "401": "Missing, malformed or unknown API key",
    "403": "Not allowed for this client (e.g. feedback on another client's prediction, a switched-off endpoint)",
    "404": "Unknown id or route",
    "409": "Already done once (e.g. feedback for a prediction that has it)",
    "413": "Body over the size limit",
    "415": "Unsupported content type",
    "422": "Input refused, with a reason code",
    "429": "Client over its rate or concurrency limit (see Retry-After)",
    "500": "Internal error (no details)",
    "503": "Unavailable (e.g. the audit log); retry later",
    "504": "Over the request time budget",
}


def declare_error_responses(app) -> None:
    """Wrap app.openapi so every protected operation lists the JSON error answers."""
    build = app.openapi

    def openapi():
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        ref = {"$ref": "#/components/schemas/Error"}
        for path, operations in schema.get("paths", {}).items():
            if path in OPEN_PATHS:
                continue
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, text in PROTECTED_ERRORS.items():
                    responses[status] = {"description": text, "content": {"application/json": {"schema": ref}}}
                operation.setdefault("security", [{"apiKey": []}, {"bearer": []}])
        schema["components"].setdefault("securitySchemes", {}).update({
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "bearer": {"type": "http", "scheme": "bearer"},
        })
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
