from mlobs.audit.time_steps import TimeSteps


def header(seq: int, ts: str) -> str:
    return f'[{seq},1,"decision","{seq:032x}","{ts}","credit","gbm","3","{seq:032x}","k1","s","approved","{"0" * 64}"]'


def times(first_seq: int, stamps: list[str], as_bytes: bool = False) -> TimeSteps:
    steps = TimeSteps()
    steps.scan(first_seq, [header(first_seq + i, ts).encode() if as_bytes else header(first_seq + i, ts)
                           for i, ts in enumerate(stamps)])
    return steps


def test_a_step_back_of_an_hour_is_named_at_its_seq_as_str_or_as_bytes():
    for as_bytes in (False, True):
        steps = times(7, ["2026-01-01T10:00:00.000000Z", "2026-01-01T09:00:00.000000Z",
                          "2026-01-01T09:00:01.000000Z"], as_bytes)
        assert (steps.back_seq, steps.back_count) == (8, 1)
        assert "first at seq 8 (2026-01-01T09:00:00.000000Z, after 2026-01-01T10:00:00.000000Z)" in steps.note()


def test_a_step_back_where_two_checked_ranges_meet_is_named_as_in_one_range():
    early = times(1, ["2026-01-01T10:00:00.000000Z", "2026-01-01T10:00:01.000000Z"])
    late = times(3, ["2026-01-01T08:00:00.000000Z", "2026-01-01T07:00:00.000000Z"])
    joined = early.then(late, 3)
    whole = times(1, ["2026-01-01T10:00:00.000000Z", "2026-01-01T10:00:01.000000Z",
                      "2026-01-01T08:00:00.000000Z", "2026-01-01T07:00:00.000000Z"])
    assert joined == whole and (joined.back_seq, joined.back_count) == (3, 2)


def test_times_a_few_seconds_out_of_order_or_not_times_at_all_are_no_step():
    assert times(1, ["2026-01-01T10:00:05.000000Z", "2026-01-01T10:00:00.000000Z"]).note() is None
    assert times(1, ["2026-01-01T10:00:05.000000Z", "2026-01-01T1"]).note() is None
