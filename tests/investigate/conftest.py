import time

import pytest
from investigate.histories import CREDIT, MINUTES, ONSET_MINUTE, VISION, History, scenarios

from mlobs.local.prometheus import Prometheus

BASES = {"credit": CREDIT, "vision": VISION}


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory):
    """A real Prometheus serving every scenario's history, one service name each: {name: (History, expected)}."""
    root = tmp_path_factory.mktemp("investigate")
    (root / "data").mkdir()
    start = time.time() - 3 * 3600
    cases = {}
    for base_name, base in BASES.items():
        for i, (scenario, (after, expected)) in enumerate(scenarios(base).items()):
            history = History(f"{base_name}{i}", start, MINUTES, ONSET_MINUTE, base, after)
            history.write_blocks(root / "data")
            cases[f"{base_name}: {scenario}"] = (history, expected)
        # The service itself starts inside the range: its first version is no version change.
        after, expected = scenarios(base)["input drift"]
        history = History(f"{base_name}-started", start, MINUTES, ONSET_MINUTE, base, after, started_minute=110)
        history.write_blocks(root / "data")
        cases[f"{base_name}: input drift after the service started"] = (history, expected)
    with Prometheus({"global": {"scrape_interval": "15s"}}, root) as prom:
        yield prom, cases
