"""Business view: decision volume and prediction mix per model, with model-version changes as annotations."""

from mlobs import catalog as c
from mlobs.stackgen import config
from mlobs.stackgen.dashboards import dashboard as make, grid, prom, q, row, timeseries
from mlobs.stackgen.slos import CREDIT_APPROVAL_RATE as KPI

P = c.PREDICTIONS
CPU = c.INFERENCE_CPU
CLIENT_CPU = c.CLIENT_INFERENCE_CPU
BY_VERSION = f"{c.MODEL}, {c.MODEL_VERSION}"
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
    [row("Cost by model version")],
    [timeseries(f"Inference cost per 1,000 predictions (at {config.CPU_HOUR_PRICE:g} per CPU-hour)",
                prom(f"sum by ({BY_VERSION}) (rate({q(CPU, series=CPU.total)}[$__rate_interval])) "
                     f"/ sum by ({BY_VERSION}) (rate({q(P, series=P.total)}[$__rate_interval])) "
                     f"* 1000 * {config.CPU_HOUR_PRICE:g} / 3600", "{{model}} {{model_version}}"),
                unit="short",
                description="CPU time of the model calls (mlobs_inference_cpu_seconds_total) per prediction, priced "
                            "at CPU_HOUR_PRICE in src/mlobs/stackgen/config.py. A new version that is dearer shows "
                            "here beside its accuracy on Model quality."),
     timeseries("Inference CPU per prediction",
                prom(f"sum by ({BY_VERSION}) (rate({q(CPU, series=CPU.total)}[$__rate_interval])) "
                     f"/ sum by ({BY_VERSION}) (rate({q(P, series=P.total)}[$__rate_interval]))",
                     "{{model}} {{model_version}}"), unit="s")],
    [timeseries(f"Inference cost per hour by client (at {config.CPU_HOUR_PRICE:g} per CPU-hour)",
                prom(f"sum by ({c.MODEL}, {c.CLIENT}) (rate({q(CLIENT_CPU, series=CLIENT_CPU.total)}"
                     f"[$__rate_interval])) * {config.CPU_HOUR_PRICE:g}", "{{model}} {{client}}"),
                unit="short", stack=True,
                description="CPU time of the model calls by the client protection identified "
                            "(mlobs_client_inference_cpu_seconds_total; \"anonymous\" without API keys). The "
                            "first clients to be active get their own line, at most MLOBS_CLIENT_COST_TOP_N; the "
                            "rest share \"_other\"."),
     timeseries("Share of inference CPU by client",
                prom(f"sum by ({c.CLIENT}) (rate({q(CLIENT_CPU, series=CLIENT_CPU.total)}[$__rate_interval])) "
                     f"/ scalar(sum (rate({q(CLIENT_CPU, series=CLIENT_CPU.total)}[$__rate_interval])))",
                     "{{client}}"), unit="percentunit", stack=True)],
]))
