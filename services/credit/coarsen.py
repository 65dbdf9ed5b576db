"""Applicant values coarsened before they leave the credit service for the drift exporter.

The drift detectors compare distributions: a KS test on incomes rounded to three significant figures
(52,345.67 -> 52,300) sees a shift as well as on exact ones, and the exact value is personal data the
exporter has no use for. Two figures (52,000) cost the KS test power: its p-value assumes no ties, and
on a grid that coarse most values tie. Training coarsens the reference and the calibration pool with
the same function, so the windows the service ships and the reference they are tested against share
one grid (and the same ties)."""

from __future__ import annotations

import math

SIGNIFICANT_FIGURES = 3


def coarse(value: float, figures: int = SIGNIFICANT_FIGURES) -> float:
    """`value` rounded to `figures` significant figures; 0 and non-finite values as they are."""
    value = float(value)
    if value == 0.0 or not math.isfinite(value):
        return value
    return float(round(value, figures - 1 - math.floor(math.log10(abs(value)))))
