"""Business view: decision volume and prediction mix per model, with model-version changes as annotations."""

from mlobs import catalog as c
from mlobs.stackgen.dashboards import dashboard as make, grid, prom, q, row, timeseries
from mlobs.stackgen.slos import CREDIT_APPROVAL_RATE as KPI

P = c.PREDICTIONS
CREDIT = f'{c.MODEL}="credit"'
APPROVED = 'class="approve"'

dashboard = make("business", "mlobs / Business view", tags=("business",), panels=grid([
    [row("Decisions (purple marks: a model version started serving)")],
    [timeseries("Decisions per hour by model",
                prom(f"sum by ({c.MODEL}) (increase({q(P, series=P.total)}[1h]))", "{{model}}"), unit="short"),
     timeseries("Prediction mix by model (share of each class; for the credit model, the approval rate)",
                prom(f"sum by ({c.MODEL}, class) (increase({q(P, series=P.total)}[1h]))",
                     "{{model}} {{class}}"), unit="short", stack=True)],
    [timeseries("Credit approval rate (1h)",
                prom(f"sum by ({c.MODEL_VERSION}) (increase({q(P, CREDIT, APPROVED, series=P.total)}[1h])) "
                     f"/ sum by ({c.MODEL_VERSION}) (increase({q(P, CREDIT, series=P.total)}[1h]))",
                     "approved, version {{model_version}}"), unit="percentunit",
                description="A dip here next to a version change or a drift alert says which one moved the business."),
     timeseries(f"Credit approval rate against its {KPI.baseline} baseline (band ±{KPI.band:.0%})",
                prom(KPI.ratio(KPI.window), f"{KPI.window}"), prom(KPI.ratio(KPI.baseline), f"{KPI.baseline} baseline"),
                prom(f"{KPI.ratio(KPI.baseline)} + {KPI.band}", "band top"),
                prom(f"{KPI.ratio(KPI.baseline)} - {KPI.band}", "band bottom"), unit="percentunit",
                description=f"{KPI.description} Outside the band for {KPI.for_}: {KPI.alert} (a ticket). "
                            "Start with `mlobs investigate --slo credit-approval-rate`.")],
]))
