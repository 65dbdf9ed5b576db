"""The five hypotheses, each a test against Prometheus that returns a scored Finding with evidence.

Scores are in [0, 1]: how strongly the evidence says "this changed, at the onset". Thresholds are the
sizes of change an on-call engineer would act on, written once here.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from mlobs.catalog import MODEL, MODEL_VERSION as VERSION
from mlobs.investigate import coverage
from mlobs.investigate.model import Finding
from mlobs.investigate.prometheus import Prometheus, Series
from mlobs.investigate.signals import OUTPUT_DETECTORS, Signals
from mlobs.investigate.stats import first_true, fraction_true, split_means
from mlobs.investigate.window import Window

VOLUME_DROP = 0.5        # a fall of half the traffic scores 1
VOLUME_SURGE = 2.0       # a tripling scores 1 (a doubling is evidence, not yet a cause)
REJECTED_RISE = 0.10     # 10 more points of requests rejected score 1
SCRAPE_GAP = 0.3         # 30% of points without a scrape score 1
LATE_GAP = 0.2           # a scrape gap that began after the onset is evidence, not a cause
LABEL_DROP = 0.5         # half as much feedback per prediction
CLASS_SHIFT = 0.15       # total variation distance of the class mix
CONFIDENCE_DROP = 0.08   # mean confidence of the predicted class
PRIOR_EXPLAINS = 0.3     # more of the points after the onset where the class mix explains the input drift
LATENCY_RISE = 1.0       # p99 doubled scores 1
LATENCY_MIN = 0.02       # and at least 20 ms more
ERRORS_5XX = 0.02        # 2 more points of 5xx score 1


@dataclass
class Context:
    prom: Prometheus
    signals: Signals
    window: Window
    onset: float
    notes: dict = field(default_factory=dict)  # numbers one test leaves for the ranking

    @property
    def guard(self) -> float:
        """rate() smears a step over its range: points this close to the onset belong to neither side."""
        return 2 * self.window.step

    @property
    def tolerance(self) -> float:
        return max(300.0, 3 * self.window.step)

    def range(self, query: str) -> list[Series]:
        return self.prom.range(query, self.window.start, self.window.end, self.window.step)

    def means(self, query: str) -> tuple[float, float]:
        series = self.range(query)
        if not series:
            return math.nan, math.nan
        return split_means(series[0].times, series[0].values, self.onset, self.guard)

    def near_onset(self, moment: float) -> bool:
        return self.onset - 3 * self.tolerance <= moment <= self.onset + self.tolerance

    def when(self, moment: float) -> str:
        minutes = (moment - self.onset) / 60
        clock = time.strftime("%H:%M", time.gmtime(moment))
        if abs(minutes) < 1:
            return f"{clock} (at the onset)"
        return f"{clock} ({abs(minutes):.0f} min {'before' if minutes < 0 else 'after'} the onset)"


def pipeline(ctx: Context) -> Finding:
    f = Finding("pipeline", dashboard="service-overview")
    s = ctx.signals
    before, after = ctx.means(s.predict_rate())
    if before > 0 and math.isfinite(after):
        change = after / before - 1
        score = -change / VOLUME_DROP if change < 0 else change / VOLUME_SURGE
        if abs(change) >= 0.2:
            f.add(f"/predict traffic {'fell' if change < 0 else 'rose'} {abs(change) * 100:.0f}% "
                  f"({before:.2f} to {after:.2f} req/s)", s.predict_rate(), score)
    ctx.notes["request_rate"] = (before, after)
    if before > 0 and math.isfinite(after) and after < before * 0.8:
        _unseen_targets(ctx, f, (before - after) / before / VOLUME_DROP)
    total_before, total_after = before, after
    for series in ctx.range(s.rejected_rate_by_reason()):
        rb, ra = split_means(series.times, series.values, ctx.onset, ctx.guard)
        if not (total_after and total_after > 0 and math.isfinite(ra)):
            continue
        share_before = (rb if math.isfinite(rb) else 0.0) / total_before if total_before else 0.0
        share_after = ra / (total_after + ra)
        rise = share_after - share_before
        if rise >= 0.02:
            reason = series.labels.get("reason", "?")
            f.add(f"inputs rejected as {reason!r} rose from {share_before * 100:.1f}% to "
                  f"{share_after * 100:.1f}% of requests", s.rejected_rate_by_reason(), rise / REJECTED_RISE)
    up = ctx.range(s.scrape_up())
    if up:
        after_mask = up[0].times >= ctx.onset
        missing = 1 - fraction_true(up[0].times, up[0].values, ctx.onset, ctx.window.end + 1)
        # One missed scrape (a busy moment past the scrape timeout) is not a broken pipeline.
        if after_mask.any() and missing >= 0.1 and missing * after_mask.sum() >= 2:
            text = f"the service was not scraped in {missing * 100:.0f}% of the points after the onset"
            down = after_mask & (np.nan_to_num(up[0].values) < 0.5)
            began = float(up[0].times[down][0]) if down.any() else ctx.onset
            if began > ctx.onset + ctx.guard:
                # A service that broke, then no longer answered its scrapes: the gap follows the breach.
                f.add(f"{text}, from {ctx.when(began)}: too late to explain it", s.scrape_up(), LATE_GAP)
            else:
                f.add(text, s.scrape_up(), missing / SCRAPE_GAP)
    fb_before, fb_after = ctx.means(s.feedback_rate())
    if before > 0 and after > 0 and fb_before > 0 and math.isfinite(fb_after):
        per_before, per_after = fb_before / before, fb_after / after
        drop = 1 - per_after / per_before
        if drop >= 0.3:
            f.add(f"feedback per prediction fell {drop * 100:.0f}% ({per_before:.2f} to {per_after:.2f}): "
                  "labels are late or missing", s.feedback_rate(), drop / LABEL_DROP * 0.8)
    dropped_before, dropped_after = ctx.means(s.drift_samples_dropped_rate())
    if math.isfinite(dropped_after) and dropped_after > 0.01 and not dropped_before > dropped_after / 2:
        f.add(f"drift samples dropped at {dropped_after:.2f}/s after the onset: the drift exporter sees less",
              s.drift_samples_dropped_rate(), 0.4)
    return f


def _unseen_targets(ctx: Context, f: Finding, score: float) -> None:
    """Traffic that fell when some of the job's targets began failing their scrapes may be traffic they
    still serve that nobody sees: the data cannot tell a lost request from an unseen one."""
    gaps = [g for g in coverage.unscraped(ctx.range(ctx.signals.targets_up()), ctx.window.end)
            if g.target and abs(g.start - ctx.onset) <= ctx.tolerance]
    if gaps:
        names = ", ".join(sorted({g.target for g in gaps}))
        f.add(f"{len(gaps)} of the job's {gaps[0].targets} targets ({names}) failed their scrapes from "
              f"{ctx.when(min(g.start for g in gaps))}: the fall may be requests they still answer that "
              "Prometheus no longer sees", ctx.signals.targets_up(), score)


def input_drift(ctx: Context) -> Finding:
    f = Finding("input_drift", dashboard="drift")
    query = ctx.signals.drift_detected()
    flagged = []
    for series in ctx.range(query):
        detector = series.labels.get("detector", "?")
        if detector in OUTPUT_DETECTORS:
            ctx.notes.setdefault("output_detectors", []).append(series)
            continue
        before = fraction_true(series.times, series.values, ctx.window.start, ctx.onset - ctx.guard)
        after = fraction_true(series.times, series.values, ctx.onset, ctx.window.end + 1)
        rise = (after if math.isfinite(after) else 0.0) - (before if math.isfinite(before) else 0.0)
        first = first_true(series.times[series.times >= ctx.onset - 3 * ctx.tolerance],
                           series.values[series.times >= ctx.onset - 3 * ctx.tolerance])
        if rise >= 0.3:
            flagged.append((rise, detector, series.labels.get("feature", ""), before, after, first))
    for rise, detector, feature, before, after, first in sorted(flagged, reverse=True)[:4]:
        timing = 1.0 if first is not None and ctx.near_onset(first) else 0.7
        where = f"{detector}" + (f" on {feature}" if feature and feature != "all" else "")
        first_text = f", first at {ctx.when(first)}" if first is not None else ""
        f.add(f"{where} flagged drift in {after * 100:.0f}% of evaluations after the onset "
              f"({(before if math.isfinite(before) else 0) * 100:.0f}% before){first_text}", query, rise * timing)
    ctx.notes["input_detectors_flagged"] = len(flagged)
    return f


def output_shift(ctx: Context) -> Finding:
    f = Finding("output_shift", dashboard="model-quality")
    s = ctx.signals
    shares_before, shares_after = {}, {}
    for series in ctx.range(s.class_rate()):
        b, a = split_means(series.times, series.values, ctx.onset, ctx.guard)
        cls = series.labels.get("class", "?")
        shares_before[cls], shares_after[cls] = (b if math.isfinite(b) else 0.0), (a if math.isfinite(a) else 0.0)
    tb, ta = sum(shares_before.values()), sum(shares_after.values())
    tvd = 0.0
    if tb > 0 and ta > 0:
        tvd = 0.5 * sum(abs(shares_after[c] / ta - shares_before[c] / tb) for c in shares_before)
        moved = max(shares_before, key=lambda c: abs(shares_after[c] / ta - shares_before[c] / tb))
        if tvd >= 0.05:
            f.add(f"the class mix moved by {tvd * 100:.0f} points (total variation); {moved!r} went from "
                  f"{shares_before[moved] / tb * 100:.0f}% to {shares_after[moved] / ta * 100:.0f}% of predictions",
                  s.class_rate(), tvd / CLASS_SHIFT)
    cb, ca = ctx.means(s.mean_confidence())
    drop = cb - ca if math.isfinite(cb) and math.isfinite(ca) else 0.0
    if drop >= 0.02:
        f.add(f"mean confidence of the predicted class fell from {cb:.3f} to {ca:.3f}", s.mean_confidence(),
              drop / CONFIDENCE_DROP * 0.8)
    for series in ctx.notes.get("output_detectors", []):
        before = fraction_true(series.times, series.values, ctx.window.start, ctx.onset - ctx.guard)
        after = fraction_true(series.times, series.values, ctx.onset, ctx.window.end + 1)
        rise = (after if math.isfinite(after) else 0) - (before if math.isfinite(before) else 0)
        if rise >= 0.3:
            f.add(f"{series.labels.get('detector')} (the model's outputs against its reference) flagged drift in "
                  f"{after * 100:.0f}% of evaluations after the onset", s.drift_detected(), rise * 0.9)
    ctx.notes.update(class_tvd=tvd, confidence_drop=drop)
    _prior_shift(ctx, f)
    return f


def _prior_shift(ctx: Context, f: Finding) -> None:
    """The drift exporter's black-box shift estimate: the true class mix of the traffic, and whether the
    input drift is what that mix alone gives (the reference reweighted to it no longer drifts)."""
    s = ctx.signals
    series = ctx.range(s.prior_shift_explains())
    if not series:
        return
    times, values = series[0].times, series[0].values
    before = fraction_true(times, values, ctx.window.start, ctx.onset - ctx.guard)
    after = fraction_true(times, values, ctx.onset, ctx.window.end + 1)
    rise = (after if math.isfinite(after) else 0.0) - (before if math.isfinite(before) else 0.0)
    ctx.notes["prior_explains"] = rise
    if rise < PRIOR_EXPLAINS:
        return
    reference = {item.labels.get("class", "?"): float(np.nanmean(item.values))
                 for item in ctx.range(s.reference_class_share()) if np.isfinite(item.values).any()}
    estimated = {}
    for item in ctx.range(s.estimated_class_share()):
        share = split_means(item.times, item.values, ctx.onset, ctx.guard)[1]
        if math.isfinite(share):
            estimated[item.labels.get("class", "?")] = share
    if estimated:
        moved = max(estimated, key=lambda c: estimated[c] - reference.get(c, estimated[c]))  # the class that grew
        held_out = f" ({reference[moved] * 100:.0f}% in the held-out data)" if moved in reference else ""
        mix = f"puts {moved!r} at {estimated[moved] * 100:.0f}% of the traffic after the onset{held_out}"
    else:
        mix = "moved"
    f.add(f"estimated without labels from the model's outputs, the class mix {mix}; that mix alone explains the "
          f"input drift in {after * 100:.0f}% of the points after the onset (the reference reweighted to it no "
          f"longer drifts)", s.estimated_class_share(), min(1.0, rise / PRIOR_EXPLAINS * 0.5))


def model_version(ctx: Context) -> Finding:
    f = Finding("model_version", dashboard="model-quality")
    s = ctx.signals
    query = s.versions_in_service()
    series = ctx.range(query)
    first_seen, still_in_service = {}, set()
    for item in series:
        present = np.nonzero(np.isfinite(item.values) & (np.nan_to_num(item.values) > 0))[0]
        if len(present):
            key = (item.labels.get("model", ""), item.labels.get("model_version", "?"))
            first_seen[key] = (float(item.times[present[0]]), present[0])
            if present[-1] >= len(item.values) - 2:
                still_in_service.add(key)
    several_models = len({model for model, _ in first_seen}) > 1
    for (model, version), (moment, index) in sorted(first_seen.items(), key=lambda kv: kv[1][0]):
        if index == 0:
            continue  # in service from the start of the range
        # Only the same model's versions came before this one or serve beside it; another model's do not.
        others = {v: seen for (m, v), (seen, _) in first_seen.items() if m == model and v != version}
        models_before = sorted({m for (m, _), (seen, _) in first_seen.items() if m != model and seen < moment})
        if any(seen < moment for seen in others.values()):
            beside = sorted(v for v in others if (model, v) in still_in_service)
            replaced = sorted(v for v in others if (model, v) not in still_in_service)
            which = f"model {model!r} version" if several_models else "model version"
            text = (f"{which} {version} went into service at {ctx.when(moment)}"
                    + (f", replacing {', '.join(replaced)}" if replaced else "")
                    + (f", beside {', '.join(beside)}" if beside else ""))
        elif models_before:  # a model added beside the ones the service already served
            text = (f"model {model!r} (version {version}) went into service at {ctx.when(moment)}, beside "
                    f"{', '.join(repr(m) for m in models_before)}")
        else:
            continue  # the service itself started: no version was in service before this one
        f.add(text, query, 1.0 if ctx.near_onset(moment) else 0.4)
        by = f"{MODEL}, {VERSION}" if several_models else VERSION
        comparisons = (
            _by_version(ctx, "online accuracy", ctx.signals.online_error_rate(by=by),
                        lambda error: f"{(1 - error) * 100:.1f}%"),
            _by_version(ctx, "inference CPU per prediction", ctx.signals.cpu_per_prediction(by=by),
                        lambda seconds: f"{seconds * 1e3:.2f} ms"),
        )
        for comparison in comparisons:
            if comparison:
                f.add(comparison[0], comparison[1], 0.0)
    return f


def _by_version(ctx: Context, what: str, query: str, show) -> tuple[str, str] | None:
    """`what` by version from the onset's tolerance on, each version's mean shown by `show`; None for one version."""
    rows = []
    for series in ctx.range(query):
        finite = series.values[np.isfinite(series.values) & (series.times >= ctx.onset - ctx.tolerance)]
        if len(finite):
            model = f"{series.labels[MODEL]} " if MODEL in series.labels else ""
            rows.append(f"{model}{series.labels.get(VERSION, '?')} {show(finite.mean())}")
    if len(rows) < 2:
        return None
    return f"{what} by version around the onset: " + ", ".join(rows), query


def serving(ctx: Context) -> Finding:
    f = Finding("serving", dashboard="service-overview")
    s = ctx.signals
    before, after = ctx.means(s.p99_latency())
    if before > 0 and math.isfinite(after) and after - before >= LATENCY_MIN:
        rise = after / before - 1
        if rise >= 0.3:
            f.add(f"p99 latency of /predict rose from {before * 1000:.0f} ms to {after * 1000:.0f} ms",
                  s.p99_latency(), rise / LATENCY_RISE)
    eb, ea = ctx.means(s.error_ratio_5xx())
    if math.isfinite(ea) and ea - (eb if math.isfinite(eb) else 0) >= 0.002:
        f.add(f"5xx answers rose from {(eb if math.isfinite(eb) else 0) * 100:.2f}% to {ea * 100:.2f}%",
              s.error_ratio_5xx(), (ea - (eb if math.isfinite(eb) else 0)) / ERRORS_5XX)
    rb, ra = ctx.means(s.audit_refused_share())
    rb = rb if math.isfinite(rb) else 0.0  # no refusal counted before the onset
    if math.isfinite(ra) and ra - rb >= 0.002:
        f.add(f"the audit log refused {ra * 100:.1f}% of decisions with a 503, as not durable (before the onset "
              f"{rb * 100:.1f}%): a full volume, a lock or an unreachable store", s.audit_refused_share(),
              (ra - rb) / ERRORS_5XX)
    db, da = ctx.means(s.telemetry_dropped_rate())
    if math.isfinite(da) and da > 0.1 and not db > da / 2:
        f.add(f"telemetry dropped at {da:.1f} items/s after the onset", s.telemetry_dropped_rate(), 0.3)
    return f


TESTS = (pipeline, input_drift, output_shift, model_version, serving)
