"""Injected causes on the native stack, each followed by `mlobs investigate` over the run.

One run is one `LocalStack` whose services each get a scenario: normal traffic for `baseline_s`,
then the cause, then `after_s` more seconds; Prometheus scrapes every second so that minutes are
enough. The investigation reads the whole run and its top hypothesis is compared with the cause.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from mlobs.investigate.model import Report
from mlobs.investigate.prometheus import Prometheus
from mlobs.investigate.report import render
from mlobs.investigate.run import investigate
from mlobs.investigate.window import Window
from mlobs.local import bad_version
from mlobs.local.ports import free_port
from mlobs.local.service import Child, Service, traffic
from mlobs.local.stack import MODEL_SERVICES, LocalStack, Options
from mlobs.traffic import faults

CLEAN = "clean"
OUTAGE = faults.OUTAGE
INPUT_DRIFT = "input-drift"
CLASS_PRIOR = "class-prior"
BAD_VERSION = "bad-version"
LATENCY_FAULT = "latency-fault"
# Scenario -> the hypothesis an investigation should rank first (None: "no cause found").
EXPECTED = {CLEAN: None, OUTAGE: "pipeline", INPUT_DRIFT: "input_drift", CLASS_PRIOR: "output_shift",
            BAD_VERSION: "model_version", LATENCY_FAULT: "serving"}
DESCRIPTIONS = {
    CLEAN: "normal traffic throughout",
    OUTAGE: f"an upstream outage: {faults.OUTAGE_VOLUME:.0%} of requests still arrive",
    INPUT_DRIFT: "the service's input shift (vision: rotated digits; credit: incomes; sentiment: social posts)",
    CLASS_PRIOR: "the class mix moves (vision: a few digits dominate; credit: half the applicants default)",
    BAD_VERSION: "a second instance serving a mislabelled model version takes over the traffic",
    LATENCY_FAULT: "every /predict answer is delayed (MLOBS_FAULT__PREDICT_DELAY_S)",
}
TRAFFIC = {  # scenario -> the traffic generator's scenario, by service where it differs
    OUTAGE: {"*": faults.OUTAGE},
    INPUT_DRIFT: {"credit": "income-shift", "vision": "rotation", "sentiment": "domain-shift"},
    CLASS_PRIOR: {"credit": "class-prior", "vision": "class-prior"},
}
FAULT_DELAY_S = 0.25
SCRAPE = "1s"
MIN_STEP_S = 3.0


@dataclass
class Outcome:
    service: str
    scenario: str
    injected_at: float
    report: Report

    @property
    def expected(self) -> str | None:
        return EXPECTED[self.scenario]

    @property
    def top(self) -> str | None:
        """The first-ranked cause, or None for "no cause found"."""
        return self.report.causes[0].key if self.report.causes else None

    @property
    def top_score(self) -> float:
        return self.report.causes[0].score if self.report.causes else 0.0

    @property
    def correct(self) -> bool:
        return self.top == self.expected

    def text(self) -> str:
        return render(self.report, "http://localhost:3000", show_queries=False)


@dataclass
class Plan:
    workdir: Path
    artifacts_dir: Path
    scenarios: dict[str, str]            # service -> scenario
    baseline_s: float = 60.0
    after_s: float = 75.0
    rate: float = 10.0
    outcomes: list[Outcome] = field(default_factory=list)

    def traffic_scenario(self, service: str) -> str:
        by_service = TRAFFIC.get(self.scenarios.get(service, CLEAN), {})
        return by_service.get(service, by_service.get("*", "normal"))


def supported(service: str, scenario: str) -> bool:
    if scenario == BAD_VERSION:
        return bad_version.supported(service)
    return scenario in EXPECTED and (scenario not in TRAFFIC or service in TRAFFIC[scenario]
                                     or "*" in TRAFFIC[scenario])


def run(plan: Plan) -> list[Outcome]:
    """Run the plan on one native stack; one outcome per service in `plan.scenarios`."""
    for service, scenario in plan.scenarios.items():
        if not supported(service, scenario):
            raise ValueError(f"scenario {scenario!r} is not available for {service}")
    workdir = Path(plan.workdir)
    takeovers = [s for s, scenario in plan.scenarios.items() if scenario == BAD_VERSION]
    bad_dir = workdir / "bad-artifacts"
    bad = {service: bad_version.publish(service, plan.artifacts_dir, bad_dir).version for service in takeovers}
    fault_env = {"MLOBS_FAULT__PREDICT_DELAY_S": f"{FAULT_DELAY_S:g}", "MLOBS_FAULT__AFTER_S": f"{plan.baseline_s:g}"}
    options = Options(
        workdir=workdir, artifacts_dir=plan.artifacts_dir, ports_base=0, rate=plan.rate,
        traffic_seconds=plan.baseline_s + plan.after_s + 120, scenario_delay=plan.baseline_s, interval=SCRAPE,
        shifts={s: plan.traffic_scenario(s) for s in MODEL_SERVICES},
        service_env={s: fault_env for s, scenario in plan.scenarios.items() if scenario == LATENCY_FAULT},
        standby_ports={s: free_port() for s in takeovers})
    stack = LocalStack(options)
    extra: list[Child] = []
    try:
        stack.start()
        sending = _traffic_sending(stack)
        injected = {s: sending[s] + plan.baseline_s for s in plan.scenarios}
        for service in sorted(takeovers, key=injected.get):
            _sleep_until(injected[service])
            injected[service] = _take_over(stack, service, bad_dir, bad[service], options, plan, extra)
        _sleep_until(max(injected.values()) + plan.after_s)
        prom = Prometheus(stack.prometheus.url, deadline_s=30.0)
        window = Window(min(sending.values()), time.time(), min_step=MIN_STEP_S)
        for service, scenario in plan.scenarios.items():
            report = investigate(prom, service, window)
            plan.outcomes.append(Outcome(service, scenario, injected[service], report))
    finally:
        for child in reversed(extra):
            child.stop()
        stack.stop()
    return plan.outcomes


def _traffic_sending(stack: LocalStack, timeout: float = 180.0) -> dict[str, float]:
    """When each service's traffic began to send (its first line, written once its workload is loaded):
    the clock its scenario delay, and so the injection, counts from."""
    sending: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(sending) < len(stack.traffic):
        if time.monotonic() > deadline:
            raise RuntimeError(f"traffic did not start within {timeout:.0f} s; logs in {stack.workdir}")
        for child in stack.traffic:
            if child.name not in sending and "mlobs traffic:" in child.log_tail():
                sending[child.name] = time.time()
        time.sleep(0.2)
    return {name.removeprefix("traffic-"): moment for name, moment in sending.items()}


def _take_over(stack: LocalStack, service: str, bad_dir: Path, version: str, options: Options, plan: Plan,
               extra: list[Child]) -> float:
    """A second instance with the bad version comes up on the standby port, then gets all the traffic."""
    old = stack.services[service]
    env = dict(old.env)
    audit = stack.workdir / "audit" / f"{service}-takeover"
    env.update(MLOBS_ARTIFACTS_DIR=str(bad_dir), MLOBS_AUDIT__STORE_URL=f"sqlite:///{audit / 'audit.db'}",
               MLOBS_AUDIT__KEYS_DIR=str(audit / "keys"))
    new = Service(service, options.standby_ports[service], env, stack.workdir / f"{service}-takeover.log")
    extra.append(new)
    new.start()
    new.wait_ready()
    answered = httpx.get(f"{new.url}/healthz", timeout=5.0).json().get("model_version")
    if answered != version:  # another server holds its port: the traffic would not reach the bad version
        raise RuntimeError(f"{new.url} answers as version {answered!r}, not the {service} takeover's {version}; "
                           f"log {new.log_path}:\n{new.log_tail()}")
    remaining = plan.after_s + 60
    child = traffic(service, new.url, rate=plan.rate, duration=remaining, scenario="normal", scenario_delay=0,
                    seed=99, log_path=stack.workdir / f"traffic-{service}-takeover.log")
    extra.append(child)
    child.start()
    while "mlobs traffic:" not in child.log_tail():  # loading its workload takes seconds: no gap in traffic
        if not child.running:
            raise RuntimeError(f"traffic to the {service} takeover exited: {child.log_tail()}")
        time.sleep(0.2)
    at = time.time()
    for t in stack.traffic:
        if t.name == f"traffic-{service}":
            t.stop()
    old.stop()
    return at


def _sleep_until(moment: float) -> None:
    while time.time() < moment:
        time.sleep(min(1.0, moment - time.time()))
