"""Ports for native stacks started side by side in one process."""

from __future__ import annotations

from mlobs.local.ports import free_port


def test_free_port_never_hands_out_the_same_port_twice_in_one_process():
    # The kernel reuses a released ephemeral port freely: 2,000 draws from its range repeat dozens of times.
    ports = [free_port() for _ in range(2000)]
    assert len(set(ports)) == len(ports)
