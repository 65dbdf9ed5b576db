from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest
from audit.factories import decision

from mlobs.audit import AuditLog, AuditUnavailable
from mlobs.audit.errors import SubjectErased
from mlobs.audit.storage.backends import open_store


class FaultyStore:
    """Wraps a real store; can block or fail writes the way a stuck or broken disk would."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.fail = False

    def write(self, build):
        self.entered.set()
        self.release.wait(10)
        if self.fail:
            raise sqlite3.OperationalError("disk I/O error")
        return self.inner.write(build)

    def __getattr__(self, name):
        return getattr(self.inner, name)


@pytest.fixture
def make_faulty(audit_settings, clock):
    """Logs over a FaultyStore of the test's store; released and closed at the end."""
    opened: list[tuple[AuditLog, FaultyStore]] = []

    def make(**overrides) -> tuple[AuditLog, FaultyStore]:
        store = FaultyStore(open_store(audit_settings.store_url))
        log = AuditLog.open(audit_settings.model_copy(update=overrides), clock=clock, store=store)
        opened.append((log, store))
        return log, store

    yield make
    for log, store in opened:
        store.release.set()
        log.close()


@pytest.fixture
def faulty(make_faulty):
    return make_faulty(queue_size=3, append_timeout_s=5)


def test_many_concurrent_appends_share_few_commits(log):
    async def many():
        return await asyncio.gather(*(log.append_async(decision(i, subject=f"s{i % 7}")) for i in range(500)))

    before = log.store.commits
    receipts = asyncio.run(many())
    assert len({r.seq for r in receipts}) == 500
    assert log.store.commits - before <= 10


def test_full_queue_refuses_at_once(faulty):
    log, store = faulty
    store.release.clear()
    first = log.submit(decision(0))
    assert store.entered.wait(5)  # the writer holds the first record: it counts until durable
    log.submit(decision(1))
    log.submit(decision(2))
    with pytest.raises(AuditUnavailable, match="queue full"):
        log.submit(decision(3))
    store.release.set()
    assert first.result(5).seq == 1
    assert log.stats()["rejected_full"] == 1


def test_failed_store_raises_unavailable_and_writes_nothing(faulty):
    log, store = faulty
    store.fail = True
    with pytest.raises(AuditUnavailable, match="disk I/O error"):
        log.append(decision(0))
    store.fail = False
    receipt = log.append(decision(1))
    assert receipt.seq == 1 and log.verify().ok
    assert log.stats()["failed_batches"] == 1


def test_unserialisable_record_fails_alone(log):
    good = log.submit(decision(1))
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        log.append(decision(2, output={"bad": object()}))
    assert good.result(5).seq == 1


def test_closed_log_refuses_appends(make_log):
    log = make_log()
    log.close()
    with pytest.raises(AuditUnavailable):
        log.append(decision(1))


def test_close_signs_a_final_checkpoint(make_log):
    log = make_log(checkpoint_every=1000)
    for i in range(3):
        log.append(decision(i))
    log.close()
    assert [cp.seq for cp in make_log().store.checkpoints()] == [3]


def test_an_async_caller_timing_out_does_not_cancel_the_others(faulty):
    log, store = faulty
    log.settings = log.settings.model_copy(update={"append_timeout_s": 0.2})
    store.release.clear()
    neighbour = log.submit(decision(0))
    assert store.entered.wait(5)
    waiting = log.submit(decision(1))

    async def impatient():
        return await log.append_async(decision(2))

    with pytest.raises(AuditUnavailable, match="not durable"):
        asyncio.run(impatient())
    store.release.set()
    assert neighbour.result(5).seq == 1 and waiting.result(5).seq == 2
    assert log.append(decision(3)).seq == 4 and log.verify().ok


@pytest.mark.parametrize("patient_first", [True, False])
def test_callers_sharing_a_group_each_time_out_at_their_own_deadline(faulty, patient_first):
    log, store = faulty
    store.release.clear()
    log.submit(decision(0))
    assert store.entered.wait(5)  # the next two records will share a group

    async def scenario():
        async def wait(pending, timeout):
            try:
                return await pending.wait(timeout)
            except TimeoutError:
                return "timed out"

        timeouts = (5.0, 0.2) if patient_first else (0.2, 5.0)
        callers = [asyncio.ensure_future(wait(log.submit(decision(i + 1)), t)) for i, t in enumerate(timeouts)]
        hasty_one, patient_one = sorted(callers, key=lambda c: timeouts[callers.index(c)])
        assert await hasty_one == "timed out"
        assert not patient_one.done()  # the group's timer goes on for the caller still within its deadline
        store.release.set()
        return await patient_one

    receipt = asyncio.run(scenario())
    assert receipt.seq in (2, 3) and log.verify().ok


def test_a_cancelled_async_caller_leaves_its_neighbours_in_the_group_to_finish(faulty):
    log, store = faulty
    store.release.clear()
    log.submit(decision(0))
    assert store.entered.wait(5)  # the next two records will share a group

    async def scenario():
        first = asyncio.ensure_future(log.append_async(decision(1)))
        second = asyncio.ensure_future(log.append_async(decision(2)))
        await asyncio.sleep(0.05)
        first.cancel()
        await asyncio.sleep(0)
        store.release.set()
        return first.cancelled(), await second

    cancelled, receipt = asyncio.run(scenario())
    assert cancelled and receipt.seq == 3 and log.query(decision_id=receipt.decision_id)


def test_a_group_finishing_after_its_callers_event_loop_closed_logs_no_error(faulty, caplog):
    log, store = faulty
    log.settings = log.settings.model_copy(update={"append_timeout_s": 0.1})
    store.release.clear()
    first = log.submit(decision(0))
    assert store.entered.wait(5)

    async def impatient():
        return await log.append_async(decision(1))

    with pytest.raises(AuditUnavailable):
        asyncio.run(impatient())  # its loop is gone before its group commits
    store.release.set()
    assert first.result(5).seq == 1 and log.append(decision(2)).seq == 3
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_records_arriving_during_a_commit_share_the_next_one(make_faulty):
    log, store = make_faulty()
    store.release.clear()
    first = log.submit(decision(0))
    assert store.entered.wait(5)  # the first commit is in flight
    together = [log.submit(decision(i)) for i in range(1, 6)]
    store.release.set()
    assert first.result(5).seq == 1
    assert [p.result(5).seq for p in together] == [2, 3, 4, 5, 6]
    assert log.store.commits == 2  # the group grew with the commit's latency, then went whole


def test_a_lone_caller_commits_alone_without_waiting_for_company(log):
    for i in range(5):
        log.append(decision(i))
    assert log.store.commits == 5
    assert log.stats()["batches"] == 5



def test_a_log_closed_while_a_commit_is_in_flight_commits_what_waits_and_signs_its_tail(make_faulty):
    log, store = make_faulty(checkpoint_every=1000)
    store.release.clear()
    first = log.submit(decision(0))
    assert store.entered.wait(5)  # the first commit is in flight
    second = log.submit(decision(1))  # waits for the committer
    closing = threading.Thread(target=log.close)
    closing.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # until the log refuses new records: it is closing
        try:
            log.submit(decision(2))
        except AuditUnavailable:
            break
        time.sleep(0.01)
    time.sleep(0.05)
    store.release.set()
    closing.join(10)
    assert not closing.is_alive()
    assert first.result(0).seq == 1 and second.result(0).seq == 2
    reopened = open_store(log.settings.store_url)
    head, _ = reopened.head()  # the records above, and any probe that got in before the close
    assert head >= 2 and [cp.seq for cp in reopened.checkpoints()][-1:] == [head]
    reopened.close()


def test_new_subjects_first_seen_in_one_group_get_a_pseudonym_and_a_key_each(make_faulty):
    log, store = make_faulty(queue_size=10, append_timeout_s=5)
    store.release.clear()
    log.submit(decision(0, subject="earlier"))
    assert store.entered.wait(5)  # the next three records share a group, two of them one new subject's
    group = [log.submit(decision(i, subject=s)) for i, s in ((1, "new-a"), (2, "new-a"), (3, "new-b"))]
    store.release.set()
    receipts = [p.result(5) for p in group]
    rows = {r.decision_id: log.query(decision_id=r.decision_id)[0] for r in receipts}
    a1, a2, b = (rows[r.decision_id]["subject"] for r in receipts)
    assert a1 == a2 != b
    assert {x["subject"] for x in log.query(subject="new-a")} == {a1}
    for i, r in enumerate(receipts, start=1):
        assert log.personal(r.decision_id, reason="test", actor="auditor") == {"name": f"Person {i}"}
    log.forget("new-a", actor="dpo")
    assert log.query(subject="new-a") == []
    assert [x["subject"] for x in log.query(subject="new-b", event_type="decision")] == [b]
    with pytest.raises(SubjectErased):
        log.personal(receipts[1].decision_id, reason="test", actor="auditor")
    assert log.personal(receipts[2].decision_id, reason="test", actor="auditor") == {"name": "Person 3"}
