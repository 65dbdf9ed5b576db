"""The SLOs of the model services. Edit here; `make generate` writes the rules."""

from __future__ import annotations

from mlobs import catalog
from mlobs.stackgen import config
from mlobs.stackgen.kpi import Band
from mlobs.stackgen.promql import match
from mlobs.stackgen.slo import SLO, BurnRate

HTTP = catalog.HTTP_REQUEST_DURATION
FEEDBACK = catalog.FEEDBACK
PREDICTIONS = catalog.PREDICTIONS

PREDICT_LATENCY = SLO(
    name="predict-latency",
    alert_prefix="PredictLatency",
    objective=0.999,
    metric=HTTP,
    group_by=(catalog.SERVICE,),
    description=f"99.9% of {config.PREDICT_ROUTE} requests are answered in under 200 ms.",
    runbook="slo-predict-latency.md",
    selectors=(match(HTTP, "route", config.PREDICT_ROUTE),),
    threshold=0.2,
)

AVAILABILITY = SLO(
    name="availability",
    alert_prefix="Availability",
    objective=0.999,
    metric=HTTP,
    group_by=(catalog.SERVICE,),
    description="99.9% of requests are answered without a 5xx.",
    runbook="slo-availability.md",
    bad=(match(HTTP, "status", "5..", "=~"),),
)

# Business SLOs have budgets of several percent, so the workbook's 14.4x could never fire: a page needs
# the error ratio at 3x the budget over an hour (or 2x over six), a ticket 1.5x over a day (or 1x over three).
BUSINESS_BURN_RATES = (
    BurnRate("page", 3.0, "1h", "5m"),
    BurnRate("page", 2.0, "6h", "30m"),
    BurnRate("ticket", 1.5, "1d", "2h"),
    BurnRate("ticket", 1.0, "3d", "6h"),
)


def correct_feedback(service: str, objective: float) -> SLO:
    """The share of a service's predictions whose ground-truth feedback says they were right."""
    return SLO(
        name=f"{service}-correct-feedback",
        alert_prefix=f"{service.capitalize()}CorrectFeedback",
        objective=objective,
        metric=FEEDBACK,
        group_by=(catalog.SERVICE,),
        description=f"{objective:.0%} of {service} predictions that get feedback were right.",
        runbook="slo-correct-feedback.md",
        selectors=(match(FEEDBACK, catalog.SERVICE, service),),
        bad=(match(FEEDBACK, "outcome", catalog.OUTCOME_INCORRECT),),
        burn_rates=BUSINESS_BURN_RATES,
    )


SENTIMENT_CORRECT_FEEDBACK = correct_feedback("sentiment", 0.85)
VISION_CORRECT_FEEDBACK = correct_feedback("vision", 0.95)

CREDIT_APPROVAL_RATE = Band(
    name="credit-approval-rate",
    alert="CreditApprovalRateOutOfBand",
    metric=PREDICTIONS,
    selectors=(match(PREDICTIONS, catalog.SERVICE, "credit"),),
    numerator=(match(PREDICTIONS, "class", "approve"),),
    group_by=(catalog.SERVICE,),
    band=0.10,
    min_rate=0.05,
    description="The credit approval rate stays within 10 points of its 7-day average.",
    runbook="kpi-approval-rate.md",
)

BUSINESS_SLOS = (SENTIMENT_CORRECT_FEEDBACK, VISION_CORRECT_FEEDBACK)
SLOS = (PREDICT_LATENCY, AVAILABILITY, *BUSINESS_SLOS)
KPIS = (CREDIT_APPROVAL_RATE,)
