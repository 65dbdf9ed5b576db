from __future__ import annotations

import os
import threading
import time

import pytest

from mlobs.audit import AuditLog, AuditSettings
from mlobs.audit.background import run_as_batch
from audit.factories import decision

pytestmark = pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is Linux's")


def test_a_thread_run_as_batch_is_scheduled_as_batch_work_and_its_neighbours_are_not():
    seen = {}

    def work():
        seen["set"] = run_as_batch()
        seen["policy"] = os.sched_getscheduler(0)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == {"set": True, "policy": os.SCHED_BATCH}
    assert os.sched_getscheduler(0) == os.SCHED_OTHER


def test_the_audit_logs_own_threads_run_as_batch_work_and_its_callers_do_not(tmp_path, clock):
    log = AuditLog.open(AuditSettings(store_url=f"sqlite:///{tmp_path / 'audit.db'}").resolved(tmp_path), clock=clock)
    try:
        log.append(decision(1))  # the first commit starts the lookup's thread
        deadline = time.monotonic() + 10
        while True:  # the lookup's thread may not have run its first line yet
            policies = {t.name: os.sched_getscheduler(t.native_id) for t in threading.enumerate()
                        if t.name.startswith("mlobs-audit")}
            if len(policies) == 4 and set(policies.values()) == {os.SCHED_BATCH} or time.monotonic() > deadline:
                break
            time.sleep(0.01)
    finally:
        log.close()
    assert set(policies) == {
        "mlobs-audit-writer", "mlobs-audit-committer", "mlobs-audit-lookup", "mlobs-audit-checkpointer"
    }
    assert set(policies.values()) == {os.SCHED_BATCH}
    assert os.sched_getscheduler(0) == os.SCHED_OTHER


def test_the_audit_logs_threads_are_named_in_the_kernel_so_top_and_profilers_tell_them_apart(tmp_path, clock):
    log = AuditLog.open(AuditSettings(store_url=f"sqlite:///{tmp_path / 'audit.db'}").resolved(tmp_path), clock=clock)
    try:
        log.append(decision(1))
        threads = {t.name: t.native_id for t in threading.enumerate()}
        expected = {"mlobs-audit-committer": "audit-committer", "mlobs-audit-writer": "audit-writer"}
        deadline = time.monotonic() + 10
        while True:  # a thread names itself on its first lines
            comms = {name: _comm(threads[name]) for name in expected}
            if comms == expected or time.monotonic() > deadline:
                break
            time.sleep(0.01)
    finally:
        log.close()
    assert comms == expected


def _comm(tid: int) -> str:
    try:
        with open(f"/proc/self/task/{tid}/comm") as handle:
            return handle.read().strip()
    except OSError:
        return "gone"
