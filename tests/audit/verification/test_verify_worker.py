from __future__ import annotations

from dataclasses import asdict

import orjson

from mlobs.audit.time_steps import TimeSteps
from mlobs.audit.verify import Problem, Segment
from mlobs.audit.verification.verify_worker import job, segment_from_json


def test_a_segment_with_its_problem_and_its_record_times_survives_the_trip_from_a_worker():
    times = TimeSteps("2026-01-01T10:00:00.000000Z", "2026-01-01T09:00:00.000000Z", 9,
                      "2026-01-01T09:00:00.000000Z", "2026-01-01T10:00:00.000000Z", 1)
    segment = Segment(count=7, first_prev="ab" * 32, last_hash="cd" * 32, last_good_checkpoint=5,
                      problem=Problem(12, "d-12", "record hash does not match its contents (edited)"), times=times)
    assert segment_from_json(orjson.dumps(asdict(segment))) == segment
    assert segment_from_json(orjson.dumps(asdict(Segment()))) == Segment()


def test_a_job_keeps_its_checkpoint_seqs_as_numbers():
    spec = orjson.loads(job("sqlite:///x.db", 11, 20, {20: "ef" * 32}))
    assert spec == {"url": "sqlite:///x.db", "lo": 11, "hi": 20, "pinned": [[20, "ef" * 32]]}
