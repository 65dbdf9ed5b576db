"""Every metric endpoint protection emits. `client` values are the configured client ids plus
"anonymous": never a key, never a free-form string, so cardinality stays bounded."""

from __future__ import annotations

from mlobs.catalog import MODEL_LABELS, SERVICE, Metric

CLIENT = "client"
# Ranks in the reference's own score distribution: 0.99 means "beyond 99% of the reference".
OOD_SCORE_BUCKETS = (0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0)

AUTH_FAILURES = Metric(
    "mlobs_auth_failures",
    "counter",
    "Requests refused for authentication, by reason: 401 missing, malformed, invalid or conflicting keys; "
    "429 throttled (the source address failed too often). The key and the address are never labels.",
    (SERVICE, "reason"),
)
CLIENT_REQUESTS = Metric(
    "mlobs_client_requests",
    "counter",
    "Requests by authenticated client and status: query volume, and oversized (413) or malformed (4xx) inputs.",
    (SERVICE, CLIENT, "status"),
)
RATE_LIMITED = Metric(
    "mlobs_rate_limited",
    "counter",
    "Requests refused with a 429, by client and limit (rate: token bucket; concurrency: in-flight cap; "
    "workers: queue on the worker pool full).",
    (SERVICE, CLIENT, "limit"),
)
REQUEST_TIMEOUTS = Metric(
    "mlobs_request_timeouts",
    "counter",
    "Requests answered 504 because they ran over the request budget.",
    (SERVICE, CLIENT),
)
INPUT_DIVERSITY = Metric(
    "mlobs_client_input_diversity",
    "gauge",
    "Estimated distinct inputs / inputs of a client over the diversity window (HyperLogLog of the "
    "inputs' canonical forms: normalised text, quantised decoded pixels, rounded features).",
    (SERVICE, CLIENT),
)
DISTINCT_INPUTS = Metric(
    "mlobs_client_distinct_inputs",
    "gauge",
    "Estimated distinct inputs (canonical forms) a client sent over the diversity window: with high "
    "diversity, the volume of a model-extraction sweep.",
    (SERVICE, CLIENT),
)
OOD_INPUTS = Metric(
    "mlobs_ood_inputs",
    "counter",
    "Inputs scored out of distribution against the model version's drift reference.",
    MODEL_LABELS + (CLIENT,),
)
OOD_SCORE = Metric(
    "mlobs_ood_score",
    "histogram",
    "Out-of-distribution score of each input: its rank among the reference's own scores (0..1).",
    MODEL_LABELS + (CLIENT,),
    OOD_SCORE_BUCKETS,
)
SECURITY_EVENTS = Metric(
    "mlobs_security_events",
    "counter",
    "Security events by kind, and whether they reached the audit log (false: none open, or over the budget).",
    (SERVICE, "kind", "audited"),
)

CONNECTIONS_REFUSED = Metric(
    "mlobs_connections_refused",
    "counter",
    "Connections the server protocol closed, by reason: head_timeout (408), body_timeout, "
    "per_address_cap (503), bad_framing (400: Content-Length with Transfer-Encoding, obs-fold, bare LF), "
    "invalid_http (400: a request h11 cannot parse).",
    (SERVICE, "reason"),
)

PROTECT_METRICS = (AUTH_FAILURES, CLIENT_REQUESTS, RATE_LIMITED, REQUEST_TIMEOUTS, INPUT_DIVERSITY, DISTINCT_INPUTS,
                   OOD_INPUTS, OOD_SCORE, SECURITY_EVENTS, CONNECTIONS_REFUSED)
