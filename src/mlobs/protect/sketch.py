"""Input diversity per client: a small HyperLogLog of input hashes over two rotating windows."""

from __future__ import annotations

import math
import time

P = 8  # 256 registers: about 6.5% relative error, 256 bytes per window per client
M = 1 << P
_ALPHA = 0.7213 / (1 + 1.079 / M)


class HyperLogLog:
    __slots__ = ("registers", "count")

    def __init__(self):
        self.registers = bytearray(M)
        self.count = 0

    def add(self, digest: int) -> None:
        """`digest`: a 64-bit hash of the input."""
        self.count += 1
        index = digest & (M - 1)
        rest = digest >> P
        rank = (64 - P) - rest.bit_length() + 1
        if rank > self.registers[index]:
            self.registers[index] = rank

    def merge(self, other: HyperLogLog) -> HyperLogLog:
        out = HyperLogLog()
        out.registers = bytearray(max(a, b) for a, b in zip(self.registers, other.registers))
        out.count = self.count + other.count
        return out

    def estimate(self) -> float:
        zeros = self.registers.count(0)
        raw = _ALPHA * M * M / sum(2.0 ** -r for r in self.registers)
        if raw <= 2.5 * M and zeros:
            return M * math.log(M / zeros)  # linear counting for small sets
        return raw


class Diversity:
    """Distinct-input ratio of one client over the last one to two windows."""

    def __init__(self, window_s: float, clock=time.monotonic):
        self.window_s, self.clock = window_s, clock
        self._start = clock()
        self._current, self._previous = HyperLogLog(), HyperLogLog()

    def _rotate(self) -> None:
        now = self.clock()
        if now - self._start >= self.window_s:
            stale = now - self._start >= 2 * self.window_s
            self._previous = HyperLogLog() if stale else self._current
            self._current, self._start = HyperLogLog(), now

    def add(self, digest: int) -> None:
        self._rotate()
        self._current.add(digest)

    def ratio(self) -> tuple[float, int]:
        """(estimated distinct / total, total) over the windows kept; (0, 0) when empty."""
        self._rotate()
        both = self._current.merge(self._previous)
        if both.count == 0:
            return 0.0, 0
        return min(1.0, both.estimate() / both.count), both.count
