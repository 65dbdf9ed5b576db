"""Security alerts (endpoint protection, mlobs.protect) and their promtool cases."""

from __future__ import annotations

from mlobs.catalog import MODEL, SERVICE
from mlobs.protect import catalog as protect
from mlobs.stackgen.alert_spec import Alert, RuleGroup
from mlobs.stackgen.promql import by, label, num, sel
from mlobs.stackgen.ruletest_spec import Case, Expect, Suite, ramp

AUTH_FAILURES_PER_S = 1.0  # sustained 401s per second per service: well above typos and key rotations
LIMITED_RATIO = 0.10  # share of a client's requests refused with 429
OOD_RATIO = 0.10  # share of a client's inputs scored OOD (1% expected at the 0.99 quantile)
MIN_OOD_PER_S = 0.05  # below this, a handful of odd inputs is not a surge
# A model-extraction sweep: many distinct inputs (canonical forms) from one client over the diversity
# window, almost none repeated. Tune EXTRACTION_DISTINCT to a few times a busy honest client's volume.
EXTRACTION_DISTINCT = 2000
EXTRACTION_DIVERSITY = 0.9

CLIENT = protect.CLIENT


def alerts() -> list[Alert]:
    auth = protect.AUTH_FAILURES
    limited, requests = protect.RATE_LIMITED, protect.CLIENT_REQUESTS
    ood, scores = protect.OOD_INPUTS, protect.OOD_SCORE
    client_by = by(SERVICE, label(limited, CLIENT))
    ood_by = by(SERVICE, MODEL, label(ood, CLIENT))
    ood_rate = f"sum {ood_by} (rate({ood.total}[15m]))"
    distinct, diversity = protect.DISTINCT_INPUTS, protect.INPUT_DIVERSITY
    who = by(SERVICE, label(distinct, CLIENT))
    return [
        Alert(
            name="AuthFailureSpike",
            expr=f"sum {by(SERVICE)} (rate({auth.total}[5m])) > {num(AUTH_FAILURES_PER_S)}",
            for_="5m",
            severity="page",
            summary="{{ $labels.service }} refuses over " + num(AUTH_FAILURES_PER_S) + " requests/s for bad API keys",
            description="Requests refused for their API key (401 missing, malformed, invalid or conflicting, or "
                        "429 from an address throttled after repeated failures) have run above "
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
        Alert(
            name="ModelExtractionSuspected",
            expr=f"max {who} ({distinct.name}) > {num(EXTRACTION_DISTINCT)}\nand on (service, client)\n"
                 f"max {who} ({diversity.name}) > {num(EXTRACTION_DIVERSITY)}",
            for_="10m",
            severity="ticket",
            summary="Client {{ $labels.client }} of {{ $labels.service }} sweeps the input space",
            description=f"Client {{{{ $labels.client }}}} sent over {num(EXTRACTION_DISTINCT)} distinct inputs "
                        f"(canonical forms: re-encoding does not count) in the diversity window, over "
                        f"{num(EXTRACTION_DIVERSITY * 100)}% of them new, for 10 minutes: the pattern of a "
                        "model-extraction sweep, or an honest batch job scoring a new dataset.",
            runbook="model-extraction-suspected.md",
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
    distinct = sel(protect.DISTINCT_INPUTS.name, 'service="sentiment"', 'client="alice"')
    diversity = sel(protect.INPUT_DIVERSITY.name, 'service="sentiment"', 'client="alice"')
    throttled = sel(protect.AUTH_FAILURES.total, 'service="sentiment"', 'reason="throttled"')
    return Suite("security", (
        Case("AuthFailureSpike fires when 5 requests a second are refused for bad keys",
             {auth: ramp((300, 20))}, expects=(Expect("AuthFailureSpike", "15m", (ids,)),)),
        Case("AuthFailureSpike stays silent at a few bad keys a minute",
             {auth: ramp((3, 20))}, expects=(Expect("AuthFailureSpike", "15m"),)),
        Case("AuthFailureSpike keeps firing when a guessing address is throttled instead of refused with 401",
             {auth: ramp((300, 2), (0, 18)), throttled: ramp((0, 2), (300, 18))},
             expects=(Expect("AuthFailureSpike", "15m", ({SERVICE: "sentiment"},)),)),
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
        Case("ModelExtractionSuspected fires when a client sends thousands of inputs, almost all new",
             {distinct: ramp((150, 30)), diversity: "0.98x30"},
             expects=(Expect("ModelExtractionSuspected", "30m", ({SERVICE: "sentiment", CLIENT: "alice"},)),)),
        Case("ModelExtractionSuspected stays silent for a client repeating a few inputs many times",
             {distinct: ramp((150, 30)), diversity: "0.3x30"},
             expects=(Expect("ModelExtractionSuspected", "30m"),)),
        Case("ModelExtractionSuspected stays silent for a client sending a few hundred new inputs",
             {distinct: ramp((10, 30)), diversity: "1x30"},
             expects=(Expect("ModelExtractionSuspected", "30m"),)),
    ))
