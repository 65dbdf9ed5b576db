from __future__ import annotations

import time
from pathlib import Path

import pytest

from mlobs.local.stack import OFFSETS, Options, rule_files
from support.native_stack import NativeStack


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
    with NativeStack(tmp_path, artifacts_dir) as local:
        assert "Prometheus" in local.output and "vision" in local.output, local.output
        children = _descendants(local.process.pid)
        assert len(children) >= 9, local.output  # 4 services, Prometheus, Alertmanager, 3 traffic generators
        code = local.stop()
    assert code == 0, local.output + local.rest
    assert "stopped" in local.rest
    time.sleep(0.5)
    assert not [pid for pid in children if _alive(pid)]
