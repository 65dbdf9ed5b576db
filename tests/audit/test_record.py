from __future__ import annotations

from datetime import datetime, timezone

import pytest

from mlobs.audit.record import HEADER_COLUMNS, format_ts, header_text, parse_ts, record_hash, row_to_dict


def test_hash_covers_every_header_field_and_the_payload():
    header = tuple(range(len(HEADER_COLUMNS)))
    base = record_hash(header_text(header), b"{}")
    for i in range(len(header)):
        changed = list(header)
        changed[i] = -1
        assert record_hash(header_text(changed), b"{}") != base
    assert record_hash(header_text(header), b"{ }") != base


def test_stored_row_reads_back_as_named_fields():
    header = header_text([1, 1, "decision", "d1", "t", "svc", "m", "v", None, "k1", "p", "deny", "0" * 64])
    record = row_to_dict((1, header, b'{"output":1}', "h"))
    assert record["decision_id"] == "d1" and record["outcome"] == "deny" and record["output"] == 1


def test_timestamps_are_fixed_width_utc_and_refuse_naive_times():
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert format_ts(moment) == "2026-01-02T03:04:05.000000Z"
    assert parse_ts(format_ts(moment)) == moment
    with pytest.raises(ValueError):
        format_ts(datetime(2026, 1, 2))


def test_fast_timestamp_has_the_same_form_as_format_ts():
    from mlobs.audit.record import now_ts, utc_now

    before, fast, after = format_ts(utc_now()), now_ts(), format_ts(utc_now())
    assert len(fast) == len(before) == 27 and fast.endswith("Z")
    assert before[:19] <= fast[:19] <= after[:19]
    assert parse_ts(fast).tzinfo is not None
