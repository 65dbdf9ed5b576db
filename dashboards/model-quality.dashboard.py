"""Model quality: prediction classes, confidence and online accuracy from feedback, versions side by side."""

from mlobs import catalog as c
from mlobs.stackgen.accuracy_panel import VERSION as V, accuracy_targets
from mlobs.stackgen.dashboards import RATE, dashboard as make, grid, prom, q, row, timeseries

P, CONF, FB = c.PREDICTIONS, c.PREDICTION_CONFIDENCE, c.FEEDBACK


def confidence(p: float) -> str:
    return f"histogram_quantile({p}, sum by (le, {V}) (rate({q(CONF, series=CONF.bucket)}[{RATE}])))"


dashboard = make("model-quality", "mlobs / Model quality", tags=("model",), panels=grid([
    [row("Predictions")],
    [timeseries("Predictions by class",
                prom(f"sum by ({c.MODEL}, class) (rate({q(P, series=P.total)}[{RATE}]))", "{{model}} {{class}}"),
                unit="reqps"),
     timeseries("Class share by model version (versions side by side)",
                prom(f"sum by ({V}, class) (rate({q(P, series=P.total)}[{RATE}])) / ignoring (class) group_left "
                     f"sum by ({V}) (rate({q(P, series=P.total)}[{RATE}]))", "{{model_version}} {{class}}"),
                unit="percentunit")],
    [row("Confidence and accuracy")],
    [timeseries("Confidence of the predicted class: median and 10th percentile",
                prom(confidence(0.5), "p50 {{model}} {{model_version}}"),
                prom(confidence(0.1), "p10 {{model}} {{model_version}}"), unit="percentunit"),
     timeseries("Online accuracy from feedback, and estimated accuracy without labels, by model version",
                *accuracy_targets(),
                unit="percentunit",
                description="Online: the last hour of ground-truth feedback, each prediction counted once. "
                            "Estimated: the last drift window's mean calibrated confidence (CBPE) with its 95% "
                            "interval, right under covariate shift, blind to prior and concept shift."),
     timeseries("Feedback received",
                prom(f"sum by ({V}, outcome) (rate({q(FB, series=FB.total)}[{RATE}]))",
                     "{{model_version}} {{outcome}}"), unit="reqps")],
]))
