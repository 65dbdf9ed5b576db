"""OpenTelemetry HTTP semantic conventions (stable, v1.23 and later) as mlobs applies them.

Every value that reaches a metric label is bounded: a method outside the known set is `_OTHER`
(the original goes on the span only, truncated), a path is never a label (the route template is,
or `unmatched`).
"""

from __future__ import annotations

import os

OTHER = "_OTHER"
# RFC 9110 and PATCH (RFC 5789). OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS replaces the list.
DEFAULT_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"})
# The route label of a request no route matched: one series for every unknown path.
UNMATCHED_ROUTE = "unmatched"
# The status of a request whose client left before its answer was complete (nginx's "client closed
# request"): not a server error, and no response reached anyone.
CLIENT_CLOSED = 499
ORIGINAL_METHOD_MAX = 32

# Span attributes (stable HTTP, URL, server, client, network and user-agent conventions).
HTTP_REQUEST_METHOD = "http.request.method"
HTTP_REQUEST_METHOD_ORIGINAL = "http.request.method_original"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
HTTP_ROUTE = "http.route"
URL_PATH = "url.path"
URL_SCHEME = "url.scheme"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
CLIENT_ADDRESS = "client.address"
CLIENT_PORT = "client.port"
NETWORK_PEER_ADDRESS = "network.peer.address"
NETWORK_PROTOCOL_VERSION = "network.protocol.version"
USER_AGENT_ORIGINAL = "user_agent.original"
ERROR_TYPE = "error.type"

# The duration metric's name and attribute names when it leaves by OTLP (mlobs.otlp_metrics).
HTTP_SERVER_REQUEST_DURATION = "http.server.request.duration"


def known_methods(environ=os.environ) -> frozenset[str]:
    configured = environ.get("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS")
    if not configured:
        return DEFAULT_KNOWN_METHODS
    return frozenset(m.strip() for m in configured.split(",") if m.strip())


def served(scope) -> bool:
    """Whether a route of the ASGI scope's app has the request's path, matched or not yet (a request
    refused before routing, a 405). A path no route has is only what the caller typed, and callers
    put ids in paths: telemetry and security events leave it out, as they leave out the query string."""
    routes = getattr(getattr(scope.get("app"), "router", None), "routes", ())
    path, root = scope.get("path", ""), scope.get("root_path", "")
    if root and path.startswith(root + "/"):  # behind a proxy's prefix: routes match what follows it
        path = path[len(root):]
    return any(route.path_regex.match(path) for route in routes if hasattr(route, "path_regex"))


def span_name(method: str, route: str | None) -> str:
    """`{method} {route}`; the method alone without a route; `HTTP` for an unknown method."""
    method = "HTTP" if method == OTHER else method
    return f"{method} {route}" if route else method


def split_host(host: str, default_port: int | None) -> tuple[str, int | None]:
    """`example.com:8443` -> ("example.com", 8443); `[::1]:80` -> ("::1", 80)."""
    if host.startswith("["):
        end = host.find("]")
        name, rest = host[1:end], host[end + 1:]
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port = host.partition(":")
    return name, int(port) if port.isdigit() else default_port
