"""Business view: decision volume and prediction mix per model, with model-version changes as annotations."""

from mlobs import catalog as c
from mlobs.stackgen.dashboards import dashboard as make, grid, prom, q, row, timeseries

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
                description="A dip here next to a version change or a drift alert says which one moved the business.")],
]))
