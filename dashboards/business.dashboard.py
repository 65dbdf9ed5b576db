"""Business view: decision volume and prediction mix per model, with model-version changes as annotations."""

from mlobs import catalog as c
from mlobs.stackgen.dashboards import dashboard as make, grid, prom, q, row, timeseries

P = c.PREDICTIONS

dashboard = make("business", "mlobs / Business view", tags=("business",), panels=grid([
    [row("Decisions (purple marks: a model version started serving)")],
    [timeseries("Decisions per hour by model",
                prom(f"sum by ({c.MODEL}) (increase({q(P, series=P.total)}[1h]))", "{{model}}"), unit="short"),
     timeseries("Prediction mix by model (share of each class; for the credit model, the approval rate)",
                prom(f"sum by ({c.MODEL}, class) (increase({q(P, series=P.total)}[1h]))",
                     "{{model}} {{class}}"), unit="short", stack=True)],
]))
