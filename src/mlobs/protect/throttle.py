"""Failed authentication per source address: after `limit` failures in a window, the address is
refused (429) until the window ends, whatever key it sends next. Guessing keys costs the attacker
a window per `limit` guesses; a client with a typo recovers by itself.

Memory is bounded: at most `max_addresses` are tracked; expired ones go first, then the oldest.
Behind a reverse proxy every request comes from the proxy: name it in trusted_proxies (`mlobs serve`
then believes its X-Forwarded-For; your own uvicorn: --forwarded-allow-ips) so the address is the
client's, or this throttles everyone at once.
"""

from __future__ import annotations

import math
import time


class AuthThrottle:
    def __init__(self, limit: int, window_s: float, clock=time.monotonic, max_addresses: int = 10_000):
        self.limit, self.window_s, self.clock, self.max_addresses = limit, window_s, clock, max_addresses
        self._windows: dict[str, list] = {}  # address -> [window start, failures]

    def retry_after(self, address: str | None) -> int:
        """Seconds until `address` may try again; 0 when it may try now."""
        entry = self._windows.get(address) if address is not None else None
        if entry is None or entry[1] < self.limit:
            return 0
        left = entry[0] + self.window_s - self.clock()
        if left <= 0:
            del self._windows[address]
            return 0
        return max(1, math.ceil(left))

    def failed(self, address: str | None) -> None:
        if address is None:
            return
        now = self.clock()
        entry = self._windows.get(address)
        if entry is None or now - entry[0] >= self.window_s:
            if entry is None and len(self._windows) >= self.max_addresses:
                self._evict(now)
            self._windows[address] = [now, 1]
        else:
            entry[1] += 1

    def _evict(self, now: float) -> None:
        expired = [a for a, (start, _) in self._windows.items() if now - start >= self.window_s]
        for address in expired:
            del self._windows[address]
        while len(self._windows) >= self.max_addresses:
            del self._windows[next(iter(self._windows))]
