from __future__ import annotations

import tracemalloc

import pytest
from support.races import at_once

from mlobs.feedback import ACCEPTED, DUPLICATE, FORBIDDEN, UNKNOWN, PredictionMemory

CLASSES = ("negative", "neutral", "positive")


def rid(i: int) -> str:
    return f"{i:032x}"


def test_a_prediction_is_claimed_once_and_a_second_claim_is_a_duplicate():
    memory = PredictionMemory(1_000_000, CLASSES)
    memory.remember(rid(1), ["positive"], "alice")
    first = memory.claim(rid(1), 0, "alice")
    assert (first.status, first.predicted) == (ACCEPTED, "positive")
    assert memory.claim(rid(1), 0, "alice").status == DUPLICATE


def test_each_prediction_of_a_batch_is_claimed_on_its_own():
    memory = PredictionMemory(1_000_000, CLASSES)
    memory.remember(rid(1), ["positive", "negative"], "alice")
    assert memory.claim(rid(1), 1, "alice").predicted == "negative"
    assert memory.claim(rid(1), 0, "alice").predicted == "positive"
    assert memory.claim(rid(1), 1, "alice").status == DUPLICATE
    assert memory.claim(rid(1), 2, "alice").status == UNKNOWN


def test_another_client_is_forbidden_but_a_labeller_may_claim():
    memory = PredictionMemory(1_000_000, CLASSES)
    memory.remember(rid(1), ["neutral"], "alice")
    assert memory.claim(rid(1), 0, "bob").status == FORBIDDEN
    assert memory.claim(rid(1), 0, "carol", labeller=True).status == ACCEPTED
    assert memory.claim(rid(1), 0, "alice").status == DUPLICATE


def test_a_refused_claim_leaves_the_prediction_open_for_its_owner():
    memory = PredictionMemory(1_000_000, CLASSES)
    memory.remember(rid(1), ["neutral"], "alice")
    memory.claim(rid(1), 0, "mallory")
    assert memory.claim(rid(1), 0, "alice").status == ACCEPTED


def test_concurrent_claims_of_one_prediction_accept_exactly_one():
    memory = PredictionMemory(1_000_000, CLASSES)
    memory.remember(rid(1), ["positive"], "alice")
    outcomes = at_once(lambda _: memory.claim(rid(1), 0, "alice").status, range(16))
    assert outcomes.count(ACCEPTED) == 1 and outcomes.count(DUPLICATE) == 15


def test_the_memory_stays_within_its_byte_bound_and_forgets_the_oldest_first():
    memory = PredictionMemory(50_000, CLASSES)
    for i in range(5_000):
        memory.remember(rid(i), ["positive"] * (1 + i % 8), f"client-{i % 3}")
        assert memory.bytes <= 50_000
    assert 100 < len(memory) < 5_000
    assert memory.claim(rid(0), 0, "client-0").status == UNKNOWN
    assert memory.claim(rid(4_999), 0, f"client-{4_999 % 3}").status == ACCEPTED


@pytest.mark.slow  # 20,000 entries under tracemalloc
def test_the_byte_accounting_is_not_below_what_the_entries_really_take():
    memory = PredictionMemory(10**9, CLASSES)
    ids = [rid(i) for i in range(20_000)]  # made before measuring: the service holds its own ids
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _, request_id in enumerate(ids):
        memory.remember(request_id, ["positive", "negative"], "alice")
    used = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    accounted_per_entry = memory.bytes / len(memory)
    measured_per_entry = used / len(memory) + 81  # + the request id string the memory keeps alive
    assert accounted_per_entry >= measured_per_entry * 0.9


def test_an_entry_bound_still_applies_beside_the_byte_bound():
    memory = PredictionMemory(10**9, CLASSES, max_entries=10)
    for i in range(25):
        memory.remember(rid(i), ["neutral"])
    assert len(memory) == 10 and memory.predicted(rid(14)) is None and memory.predicted(rid(15)) == "neutral"


def test_an_unknown_class_cannot_be_remembered():
    with pytest.raises(KeyError):
        PredictionMemory(1000, CLASSES).remember(rid(1), ["sarcastic"])


def test_an_unknown_role_in_the_key_configuration_is_refused_at_start():
    from pydantic import ValidationError

    from mlobs.protect import ProtectSettings

    assert ProtectSettings(roles={"labels": ["labeller"]}).roles == {"labels": ["labeller"]}
    with pytest.raises(ValidationError, match="unknown roles"):
        ProtectSettings(roles={"labels": ["labeler"]})
