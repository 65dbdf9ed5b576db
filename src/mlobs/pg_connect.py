"""PostgreSQL connections on which no wait lasts longer than `timeout_s`.

A server that stops answering (a network partition, a host gone, a server wedged on its disk) never
closes the connection: without a deadline of the client's own, the thread on it waits for ever, and
whatever waits on that thread (a writer, a request) with it, long after the server is back. Here every
exchange (connecting, a statement, a commit, each chunk of rows a cursor fetches) fails after `timeout_s`
with `ServerNotAnswering` (an OperationalError), and the connection is closed, so that its owner connects
afresh.

The server is told the same bound: a connection idle inside a transaction longer than that (its client
cut off mid-transaction) is ended, so the locks the transaction holds are free again for the connection
that replaces it; its keepalives notice a client gone from the network. Keepalives and TCP_USER_TIMEOUT
let the kernel end a connection whose peer has vanished while it is idle. A parameter the URL sets itself
is left as it sets it.

A server that answers, only late, is the server's to bound: a statement waiting on a lock or running long
goes on on the server after its client has given up (and may still commit). A user that must not have
that sets `statement_timeout` or `lock_timeout` through `settings`.
"""

from __future__ import annotations

import math

import psycopg
from psycopg.conninfo import conninfo_to_dict

DEFAULT_TIMEOUT_S = 10.0
READ_ONLY = {"default_transaction_read_only": "on"}  # `settings` for a connection that never writes


class ServerNotAnswering(psycopg.OperationalError):
    """The PostgreSQL server did not answer in time (a connection, or an exchange on one)."""


class BoundedConnection(psycopg.Connection):
    """A connection whose every wait on the server ends within `timeout_s`."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    not_answering: type[ServerNotAnswering] = ServerNotAnswering

    def wait(self, gen, interval: float | None = None, timeout: float | None = None):
        bound = self.timeout_s if timeout is None else min(timeout, self.timeout_s)
        kwargs = {} if interval is None else {"interval": interval}
        try:
            return super().wait(gen, timeout=bound, **kwargs)
        except psycopg.errors._WaitTimeout:
            # Mid-exchange the connection is unusable: close it, so its owner sees it closed.
            self.pgconn.finish()
            raise self.not_answering(f"PostgreSQL did not answer within {bound:g} s; the connection was "
                                     "dropped") from None


def connect(url: str, timeout_s: float = DEFAULT_TIMEOUT_S, *, autocommit: bool = True,
            connect_timeout_s: float | None = None, settings: dict[str, str | int] | None = None,
            error: type[ServerNotAnswering] = ServerNotAnswering) -> BoundedConnection:
    """A connection to `url` that connects within `connect_timeout_s` (default `timeout_s`) and answers
    every exchange within `timeout_s`, or fails with `error`. `settings` are set on the server once
    connected (over what the URL sets), in the same bound."""
    given = conninfo_to_dict(url)
    ms = max(1, int(timeout_s * 1000))
    keepalive_s = max(1, math.ceil(min(timeout_s, connect_timeout_s or timeout_s) / 3))
    params = {
        # libpq's whole-handshake bound, in whole seconds (and no shorter than 2 s, as libpq counts it).
        "connect_timeout": max(2, math.ceil(connect_timeout_s or timeout_s)),
        "keepalives": 1, "keepalives_idle": keepalive_s, "keepalives_interval": keepalive_s, "keepalives_count": 3,
        "tcp_user_timeout": ms,
    }
    options = given.get("options", "")
    for name, value in (("idle_in_transaction_session_timeout", ms), ("tcp_keepalives_idle", keepalive_s),
                        ("tcp_keepalives_interval", keepalive_s), ("tcp_keepalives_count", 3)):
        if name not in options:
            options += f" -c {name}={value}"
    params["options"] = options.strip()
    try:
        conn = BoundedConnection.connect(url, autocommit=autocommit,
                                         **{k: v for k, v in params.items() if k not in given or k == "options"})
    except psycopg.errors.ConnectionTimeout:
        where = f"{given.get('host', 'localhost')}:{given.get('port', 5432)}"  # never the URL: it may hold a password
        bound = given.get("connect_timeout", params["connect_timeout"])
        raise error(f"PostgreSQL at {where} did not answer a connection within {bound} s") from None
    conn.timeout_s, conn.not_answering = timeout_s, error
    if settings:
        try:
            # One exchange for all; set_config takes parameters where SET cannot.
            conn.execute("SELECT " + ", ".join(["set_config(%s, %s, false)"] * len(settings)),
                         [str(x) for item in settings.items() for x in item])
            if not autocommit:
                conn.commit()
        except BaseException:
            conn.close()
            raise
    return conn


class Session:
    """One bounded connection to `url` at a time: one dropped (its server stopped answering) is replaced
    by a fresh one at its next use, so the owner recovers once the server answers again."""

    error: type[ServerNotAnswering] = ServerNotAnswering

    def __init__(self, url: str, timeout_s: float = DEFAULT_TIMEOUT_S, *, readonly: bool = False,
                 connect_timeout_s: float | None = None, settings: dict[str, str | int] | None = None) -> None:
        self.url, self.timeout_s, self.readonly = url, timeout_s, readonly
        self.connect_timeout_s = connect_timeout_s
        self.settings = {**(settings or {}), **(READ_ONLY if readonly else {})}
        self._conn: BoundedConnection | None = None

    def conn(self) -> BoundedConnection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.url, self.timeout_s, connect_timeout_s=self.connect_timeout_s,
                                 settings=self.settings, error=self.error)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
