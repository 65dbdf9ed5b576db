"""The receiver's journal is whole JSON lines, whatever an earlier receiver left at its end when it was killed
in the middle of a write, and whatever number of receivers append to it at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from mlobs.oncall.receiver import create_app
from mlobs.settings import Settings
from mlobs.whole_lines import append_whole
from oncall.payloads import alert, message


def _receiver(journal):
    settings = Settings(_env_file=None, oncall={"journal_path": journal})
    return TestClient(create_app(settings, CollectorRegistry()))


def test_a_journal_left_with_half_a_line_by_a_killed_receiver_gets_whole_lines_after_it(tmp_path):
    journal = tmp_path / "pages.jsonl"
    with _receiver(journal) as client:
        assert client.post("/alerts", json=message(alert("Before"))).status_code == 200
    whole = journal.read_bytes()
    journal.write_bytes(whole + whole[:len(whole) // 2])  # the next line, cut where the receiver was killed
    with _receiver(journal) as client:
        assert client.post("/alerts", json=message(alert("After"))).status_code == 200
    lines = journal.read_text().splitlines()
    assert [json.loads(line)["alerts"][0]["labels"]["alertname"] for line in lines] == ["Before", "After"]


_WRITER = """
import sys
from mlobs.whole_lines import append_whole
with open(sys.argv[1], "a+b", buffering=0) as handle:
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        append_whole(handle, b"%d:" % n + b"x" * 200_000 + b":%d\\n" % n)
"""


def _whole(line: bytes) -> bool:
    head, _, rest = line.partition(b":")
    body, _, tail = rest.rpartition(b":")
    return head == tail and body == b"x" * 200_000


def test_an_appender_killed_at_any_moment_leaves_only_whole_lines_once_the_next_append_is_done(tmp_path):
    path = tmp_path / "lines"
    for round_ in range(8):
        writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE,
                                  env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        assert writer.stdout.readline() == b"ready\n"
        time.sleep(0.005 * round_)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        with open(path, "a+b", buffering=0) as handle:
            append_whole(handle, b"0:" + b"x" * 200_000 + b":0\n")
        lines = path.read_bytes().split(b"\n")
        assert lines[-1] == b"" and all(_whole(line) for line in lines[:-1]), round_


_COUNTED_WRITER = """
import sys
from mlobs.whole_lines import append_whole
with open(sys.argv[1], "a+b", buffering=0) as handle:
    for n in range(int(sys.argv[2]), int(sys.argv[2]) + 40):
        append_whole(handle, b"%d:" % n + b"x" * 200_000 + b":%d\\n" % n)
"""


def test_two_appenders_of_one_file_at_once_leave_every_line_of_both_whole(tmp_path):
    path = tmp_path / "lines"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writers = [subprocess.Popen([sys.executable, "-c", _COUNTED_WRITER, str(path), str(first)], env=env)
               for first in (1000, 2000)]
    assert [writer.wait() for writer in writers] == [0, 0]
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(_whole(line) for line in lines[:-1])
    assert sorted(int(line.partition(b":")[0]) for line in lines[:-1]) == [*range(1000, 1040), *range(2000, 2040)]


def test_a_journal_path_set_to_a_file_that_is_no_journal_leaves_that_file_as_it_was(tmp_path):
    other = tmp_path / "model.bin"
    data = os.urandom(20 * 1024 * 1024).replace(b"\n", b"\0")  # no line in it at all
    other.write_bytes(data)
    with _receiver(other) as client:
        answer = client.post("/alerts", json=message(alert("Lost")))
        assert answer.status_code == 500 and "not cut back" in answer.json()["detail"]
        assert [n["alerts"][0]["labels"]["alertname"] for n in client.get("/pages").json()["notifications"]] == [
            "Lost"]  # listed all the same
    assert other.read_bytes() == data
