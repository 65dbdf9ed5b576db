"""Online and estimated accuracy side by side: the same lines on every dashboard that shows model quality."""

from __future__ import annotations

from mlobs import catalog as c
from mlobs.drift import catalog as d
from mlobs.stackgen.dashboards import prom, q

VERSION = f"{c.SERVICE}, {c.MODEL}, {c.MODEL_VERSION}"


def accuracy_targets() -> list:
    """Online accuracy from the last hour of feedback, the window's estimate with its interval, and held-out."""
    feedback = q(c.FEEDBACK, series=c.FEEDBACK.total)
    correct = q(c.FEEDBACK, f'outcome="{c.OUTCOME_CORRECT}"', series=c.FEEDBACK.total)
    return [
        prom(f"sum by ({VERSION}) (rate({correct}[1h])) / sum by ({VERSION}) (rate({feedback}[1h]))",
             "online {{model}} {{model_version}}"),
        prom(f"max by ({VERSION}) ({q(d.ESTIMATED_ACCURACY)})", "estimated {{model}} {{model_version}}", ref="B"),
        prom(f"max by ({VERSION}) ({q(d.ESTIMATED_ACCURACY_LOWER)})", "estimate low {{model_version}}", ref="C"),
        prom(f"max by ({VERSION}) ({q(d.ESTIMATED_ACCURACY_UPPER)})", "estimate high {{model_version}}", ref="D"),
        prom(f"max by ({VERSION}) ({q(d.ESTIMATED_ACCURACY_BASELINE)})", "held-out {{model_version}}", ref="E"),
    ]
