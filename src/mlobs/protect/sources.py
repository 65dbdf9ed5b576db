"""The source a per-address limit counts: an IPv4 address, or the IPv6 network it belongs to.

One IPv6 host is usually given a whole /64 (2^64 addresses), and picks a new address per connection as
easily as a port: counted per address, an IPv6 client would have no connection cap and no failed-login
throttle at all. So IPv6 addresses are counted by their network (a /64 by default, ProtectSettings.
ipv6_source_prefix), and an IPv4-mapped IPv6 address (::ffff:a.b.c.d, a dual-stack socket's view of an
IPv4 peer) as the IPv4 address it is.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

DEFAULT_IPV6_PREFIX = 64


def source(address: str | None, ipv6_prefix: int = DEFAULT_IPV6_PREFIX) -> str | None:
    """The key a per-address limit counts `address` under; not an IP address (a Unix socket): itself."""
    if address is None or ":" not in address:  # IPv4, the common case, costs one membership test
        return address
    return _ipv6_source(address, ipv6_prefix)


@lru_cache(maxsize=4096)
def _ipv6_source(address: str, prefix: int) -> str:
    try:
        ip = ipaddress.IPv6Address(address.split("%", 1)[0])  # a scope id (fe80::1%eth0) names no other host
    except ValueError:
        return address
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((ip, prefix), strict=False))
