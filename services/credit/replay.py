"""Replay a recorded credit decision: the artifact that made it, on the exact recorded inputs."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from mlobs_services.credit import model as credit_model
from mlobs_services.credit.service import decide


@lru_cache(maxsize=8)
def _load(directory: str):
    return credit_model.load(Path(directory))  # a sample of decisions mostly shares a few artifacts


def replay(directory: Path, inputs: dict) -> dict:
    """What the service answered (and recorded) for these inputs with the artifact in `directory`."""
    _, outcome, output, reasons = decide(_load(str(directory)), inputs)
    return {"output": output, "outcome": outcome, "reason_codes": reasons}
