"""Security alerts (endpoint protection, mlobs.protect) and their promtool cases."""

from __future__ import annotations

from mlobs.catalog import MODEL, SERVICE
from mlobs.protect import catalog as protect
from mlobs.stackgen.alerts_model import Alert, RuleGroup
from mlobs.stackgen.promql import by, label, num, sel
from mlobs.stackgen.ruletests_model import Case, Expect, Suite, ramp

AUTH_FAILURES_PER_S = 1.0  # sustained 401s per second per service: well above typos and key rotations
LIMITED_RATIO = 0.10  # share of a client's requests refused with 429
OOD_RATIO = 0.10  # share of a client's inputs scored OOD (1% expected at the 0.99 quantile)
MIN_OOD_PER_S = 0.05  # below this, a handful of odd inputs is not a surge

CLIENT = protect.CLIENT


def alerts() -> list[Alert]:
    auth = protect.AUTH_FAILURES
    limited, requests = protect.RATE_LIMITED, protect.CLIENT_REQUESTS
    ood, scores = protect.OOD_INPUTS, protect.OOD_SCORE
    client_by = by(SERVICE, label(limited, CLIENT))
    ood_by = by(SERVICE, MODEL, label(ood, CLIENT))
    ood_rate = f"sum {ood_by} (rate({ood.total}[15m]))"
    return [
        Alert(
            name="AuthFailureSpike",
            expr=f"sum {by(SERVICE)} (rate({auth.total}[5m])) > {num(AUTH_FAILURES_PER_S)}",
            for_="5m",
            severity="page",
            summary="{{ $labels.service }} refuses over " + num(AUTH_FAILURES_PER_S) + " requests/s for bad API keys",
            description="Requests with a missing, malformed or unknown API key (401) have run above "
                        f"{num(AUTH_FAILURES_PER_S)}/s for 5 minutes: key guessing, a leaked-then-revoked key "
                        "still in use, or a client deployed without its key.",
            runbook="auth-failure-spike.md",
        ),
        Alert(
            name="ClientRateLimitedPersistently",
            expr=f"sum {client_by} (rate({limited.total}[10m]))\n/\n"
                 f"sum {client_by} (rate({requests.total}[10m]))\n> {num(LIMITED_RATIO)}",
            for_="30m",
            severity="ticket",
            summary="Client {{ $labels.client }} of {{ $labels.service }} keeps hitting its limits",
            description=f"Over {num(LIMITED_RATIO * 100)}% of the requests of client {{{{ $labels.client }}}} "
                        "have been refused with 429 for 30 minutes: a client retrying without backoff, a "
                        "scraping or model-extraction attempt, or a limit set too low for real demand.",
            runbook="client-rate-limited.md",
        ),
        Alert(
            name="OODInputSurge",
            expr=f"{ood_rate}\n/\nsum {ood_by} (rate({scores.count}[15m]))\n> {num(OOD_RATIO)}\n"
                 f"and\n{ood_rate} > {num(MIN_OOD_PER_S)}",
            for_="15m",
            severity="ticket",
            summary="Client {{ $labels.client }} sends out-of-distribution inputs to {{ $labels.model }}",
            description=f"Over {num(OOD_RATIO * 100)}% of the inputs of client {{{{ $labels.client }}}} score "
                        "beyond the reference's 99th percentile (1% expected) for 15 minutes: adversarial "
                        "probing, a new kind of input, or a client-side preprocessing bug.",
            runbook="ood-input-surge.md",
        ),
    ]


def group() -> RuleGroup:
    return RuleGroup("security", "security", tuple(alerts()))


def cases() -> Suite:
    ids = {SERVICE: "sentiment"}
    auth = sel(protect.AUTH_FAILURES.total, 'service="sentiment"', 'reason="invalid"')
    who = {SERVICE: "sentiment", CLIENT: "alice"}
    limited = sel(protect.RATE_LIMITED.total, 'service="sentiment"', 'client="alice"', 'limit="rate"')
    ok = sel(protect.CLIENT_REQUESTS.total, 'service="sentiment"', 'client="alice"', 'status="200"')
    refused = sel(protect.CLIENT_REQUESTS.total, 'service="sentiment"', 'client="alice"', 'status="429"')
    model = {SERVICE: "sentiment", MODEL: "sentiment", "model_version": "v1", CLIENT: "alice"}
    labels = ", ".join(f'{k}="{v}"' for k, v in model.items())
    ood = f"{protect.OOD_INPUTS.total}{{{labels}}}"
    scored = f"{protect.OOD_SCORE.count}{{{labels}}}"
    ood_who = {SERVICE: "sentiment", MODEL: "sentiment", CLIENT: "alice"}
    return Suite("security", (
        Case("AuthFailureSpike fires when 5 requests a second are refused for bad keys",
             {auth: ramp((300, 20))}, expects=(Expect("AuthFailureSpike", "15m", (ids,)),)),
        Case("AuthFailureSpike stays silent at a few bad keys a minute",
             {auth: ramp((3, 20))}, expects=(Expect("AuthFailureSpike", "15m"),)),
        Case("ClientRateLimitedPersistently fires when a third of a client's requests get 429 for 40 minutes",
             {limited: ramp((600, 60)), refused: ramp((600, 60)), ok: ramp((1200, 60))},
             expects=(Expect("ClientRateLimitedPersistently", "55m", (who,)),)),
        Case("ClientRateLimitedPersistently stays silent when a client is limited in a short burst only",
             {limited: "0x10 600+600x5 3600x40", refused: "0x10 600+600x5 3600x40", ok: ramp((1200, 60))},
             expects=(Expect("ClientRateLimitedPersistently", "55m"),)),
        Case("OODInputSurge fires when half a client's inputs are out of distribution",
             {ood: ramp((30, 40)), scored: ramp((60, 40))},
             expects=(Expect("OODInputSurge", "35m", (ood_who,)),)),
        Case("OODInputSurge stays silent at the expected 1% of OOD inputs",
             {ood: ramp((0.6, 40)), scored: ramp((60, 40))},
             expects=(Expect("OODInputSurge", "35m"),)),
    ))
