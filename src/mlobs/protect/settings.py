"""Endpoint protection settings (MLOBS_PROTECT__*), part of mlobs.settings.Settings."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from mlobs.protect.roles import ROLES


class ProtectSettings(BaseModel):
    # false: protect() installs nothing (no authentication, limits, worker pool or security headers)
    # and logs a warning at start.
    enabled: bool = True
    # "auto": on when any key is configured (dev runs without keys); "required": refuse to start
    # without keys (compose, production); "off": every caller is "anonymous".
    auth: Literal["auto", "required", "off"] = "auto"
    # Lines of `client_id: sha256-hex-of-key` (blank lines and # comments allowed).
    api_keys_file: Path | None = None
    # client_id -> sha256 hex of the key, e.g. MLOBS_PROTECT__API_KEYS='{"web": "5e88..."}'.
    api_keys: dict[str, str] = Field(default_factory=dict)
    # client_id -> roles, e.g. MLOBS_PROTECT__ROLES='{"labelling-team": ["labeller"]}' (mlobs.protect.roles.ROLES).
    roles: dict[str, list[str]] = Field(default_factory=dict)

    # Per-client token bucket: sustained requests per second; past it 429 `rate_limited` with Retry-After.
    rate_per_s: float = Field(100.0, gt=0)
    # The bucket's size: requests one client may send at once above its rate before it is limited.
    burst: int = Field(200, gt=0)
    # Requests one client may have in flight at once: a flood queues at its own door.
    max_concurrency: int = Field(8, gt=0)
    # Without authentication every caller is the one "anonymous" client: limit it only if asked.
    limit_anonymous: bool = False

    # Body limits by content type; None takes Settings.max_body_bytes / max_image_bytes.
    max_body_bytes: int | None = Field(None, gt=0)
    # Budget of one request, end to end: over it, 504 (if the answer has not started). None: no budget.
    request_timeout_s: float | None = Field(None, gt=0)

    # An input is out of distribution when its score is above this quantile of the reference's.
    ood_quantile: float = Field(0.99, gt=0.5, lt=1.0)
    # Per-client distinct-input ratio over a sliding window of this many seconds.
    diversity_window_s: float = Field(600.0, gt=0)
    # Security events sent to the audit log per second at most (the rest are counted, not recorded).
    audit_events_per_s: float = Field(10.0, gt=0)

    # Work budget of one request, summed over its items (413 `over_budget` before any decoding).
    # vision: decoded pixels of all its images, read from their headers.
    max_request_pixels: int = Field(4_000_000, gt=0)
    # sentiment: characters of all its texts (413 `over_budget` before inference).
    max_batch_chars: int = Field(20_000, gt=0)
    # Worker pool for large requests (mlobs.protect.workers): this many threads decode and infer the
    # requests over inline_load of their budget, so the event loop keeps answering probes meanwhile.
    workers: int = Field(2, gt=0)
    # Jobs one client may run on the pool at once; 1 with 2 workers leaves a worker for the others.
    worker_share: int = Field(1, gt=0)
    # Large requests one client may queue beyond its share; one more gets 429 `busy` at once.
    max_waiting_per_client: int = Field(8, ge=0)
    # Share of its work budget (0 to 1) under which a request runs inline on the event loop: a thread
    # hop costs more than a sub-millisecond model call.
    inline_load: float = Field(0.05, ge=0, le=1)

    # Slow clients (the server `mlobs serve` runs, mlobs.protect.server): seconds the request head
    # may take from its first byte; past it 408 and the connection is closed.
    header_timeout_s: float = Field(10.0, gt=0)
    # Seconds the body may take after the head; past it the connection is closed (a body_timeout refusal).
    body_timeout_s: float = Field(30.0, gt=0)
    # Open connections from one client address, at most; one more is answered 503 and closed.
    max_connections_per_address: int = Field(64, gt=0)
    # An IPv6 client is counted by its network of this prefix length, not its address, by the connection
    # cap and the failed-authentication throttle: one host usually holds a /64 and can change address per
    # connection (mlobs.protect.sources). 128 counts single addresses.
    ipv6_source_prefix: int = Field(64, ge=1, le=128)
    # Addresses or networks (CIDR) of the reverse proxies in front of the service, e.g.
    # '["10.0.0.0/8"]'. A proxy carries every client's connections, so its own are not capped per
    # address (each client's key still has its limits), and its X-Forwarded-For is believed: the
    # per-address limits then see the client's address. Empty: every address is capped, and
    # uvicorn's default (FORWARDED_ALLOW_IPS, else loopback) decides whose X-Forwarded-For is believed.
    trusted_proxies: list[str] = Field(default_factory=list)

    # Failed authentication per source address: after this many failures within the window, the
    # address gets 429 for the rest of the window, whatever key it sends.
    auth_failures_per_address: int = Field(20, gt=0)
    # Seconds of that window: a key guesser gets auth_failures_per_address tries per window, and a
    # client with a mistyped key recovers by itself when it ends.
    auth_failure_window_s: float = Field(60.0, gt=0)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, proxies: list[str]) -> list[str]:
        # Written as networks ("10.1.2.3/8" -> "10.0.0.0/8"): uvicorn takes a network with host bits
        # set for a literal name and would silently believe no one.
        networks = []
        for proxy in proxies:
            try:
                networks.append(str(ipaddress.ip_network(proxy.strip(), strict=False)))
            except ValueError:
                raise ValueError(f"{proxy!r} is not an IP address or network (CIDR)") from None
        return networks

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: dict[str, list[str]]) -> dict[str, list[str]]:
        for client, held in roles.items():
            unknown = sorted(set(held) - set(ROLES))
            if unknown:
                raise ValueError(f"client {client}: unknown roles {unknown}; known: {list(ROLES)}")
        return roles
