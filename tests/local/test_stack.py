from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlobs.local.stack import OFFSETS, Options, rule_files


def test_ports_are_offsets_from_the_base_or_free_when_the_base_is_zero(tmp_path):
    options = Options(workdir=tmp_path, artifacts_dir=tmp_path, ports_base=20000)
    assert options.port("prometheus") == 20000 + OFFSETS["prometheus"]
    free = Options(workdir=tmp_path, artifacts_dir=tmp_path, ports_base=0)
    assert 0 < free.port("vision") < 65536


def test_rule_files_are_the_generated_ones():
    files = rule_files()
    assert files and all(f.endswith(".rules.yml") for f in files)


def test_missing_rule_files_say_how_to_fix(tmp_path):
    (tmp_path / "alerts").mkdir()
    with pytest.raises(RuntimeError, match="make generate"):
        rule_files(tmp_path)


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.integration
def test_sigterm_stops_every_child_of_the_native_stack(tmp_path, artifacts_dir):
    process = subprocess.Popen(
        [sys.executable, "-m", "mlobs.local", "--ports-base", "0", "--interval", "1s", "--workdir", str(tmp_path),
         "--artifacts-dir", str(artifacts_dir), "--duration", "600"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        output = "".join(lines)
        assert "Prometheus" in output and "vision" in output, output
        children = _descendants(process.pid)
        assert len(children) >= 9, output  # 4 services, Prometheus, Alertmanager, 3 traffic generators
        process.send_signal(signal.SIGTERM)
        rest = process.communicate(timeout=60)[0]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output + rest
    assert "stopped" in rest
    time.sleep(0.5)
    assert not [pid for pid in children if _alive(pid)]
