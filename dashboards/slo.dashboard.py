"""SLOs: objective, current SLI, error budget left and burn rate per window, one row per SLO."""

from mlobs import catalog as c
from mlobs.stackgen import slo as s
from mlobs.stackgen.dashboards import dashboard as make, grid, prom, row, stat, text, timeseries
from mlobs.stackgen.slos import SLOS

SVC = f'{c.SERVICE}=~"${c.SERVICE}"'


def ratio(spec, window: str) -> str:
    return f'{s.ERROR_RATIO.format(window=window)}{{{s.SLO_LABEL}="{spec.name}", {SVC}}}'


def slo_rows(spec) -> list:
    budget = spec.budget
    return [
        [row(f"SLO {spec.name}")],
        [text("Objective", f"**{spec.description}**\n\nObjective {spec.objective:.3%} over 30 days; "
                           f"error budget {budget:.3%} of events. Runbook: `alerts/runbooks/{spec.runbook}`."),
         stat("SLI over 30 days", prom(f"1 - {ratio(spec, '30d')}", "{{service}}", instant=True),
              unit="percentunit", decimals=3),
         stat("Error budget left (30 days)",
              prom(f"1 - {ratio(spec, '30d')} / {budget:.10g}", "{{service}}", instant=True),
              unit="percentunit", decimals=1),
         stat("Burn rate over 1h", prom(f"{ratio(spec, '1h')} / {budget:.10g}", "{{service}}", instant=True),
              decimals=2)],
        [timeseries("Burn rate per window (1 = spending exactly the budget)",
                    *[prom(f"{ratio(spec, w)} / {budget:.10g}", f"{w} {{{{service}}}}") for w in s.WINDOWS[:-1]],
                    description=spec.burn_summary()),
         timeseries("Error ratio over 5m and 1h",
                    prom(ratio(spec, "5m"), "5m {{service}}"), prom(ratio(spec, "1h"), "1h {{service}}"),
                    unit="percentunit")],
    ]


dashboard = make("slo", "mlobs / SLOs", tags=("slo",), panels=grid([r for spec in SLOS for r in slo_rows(spec)]))
