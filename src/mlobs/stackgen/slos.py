"""The SLOs of the model services. Edit here; `make generate` writes the rules."""

from __future__ import annotations

from mlobs import catalog
from mlobs.stackgen import config
from mlobs.stackgen.promql import match
from mlobs.stackgen.slo import SLO

HTTP = catalog.HTTP_REQUEST_DURATION

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

SLOS = (PREDICT_LATENCY, AVAILABILITY)
