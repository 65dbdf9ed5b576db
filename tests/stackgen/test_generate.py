from __future__ import annotations

import json
import shutil

from mlobs.stackgen import config
from mlobs.stackgen.__main__ import main
from mlobs.stackgen.generate import OUT_OF_DATE, differences, render

ROOT = config.ROOT


def test_the_checked_in_generated_files_equal_a_fresh_generation():
    assert differences() == {}, "run `make generate` and commit"


def test_generation_is_deterministic():
    assert render() == render()


def test_every_generated_file_says_do_not_edit_and_names_the_command():
    for rel, text in render().items():
        if rel.endswith(".json"):
            assert config.DO_NOT_EDIT in json.loads(text)["description"], rel
        elif rel.endswith(".md"):
            assert text.startswith(f"<!-- {config.DO_NOT_EDIT} -->"), rel
        else:
            assert text.startswith(f"# {config.DO_NOT_EDIT}"), rel
        assert "python -m mlobs.stackgen generate" in text


def _copy(tmp_path):
    for part in ("alerts", "dashboards", "stack", "deploy", "docs"):
        shutil.copytree(ROOT / part, tmp_path / part)
    return tmp_path


def test_a_hand_edit_of_a_generated_file_is_reported_as_out_of_date(tmp_path):
    root = _copy(tmp_path)
    rules = root / "alerts/service.rules.yml"
    rules.write_text(rules.read_text().replace("for: 2m", "for: 9m"))
    stale = root / "alerts/old.rules.yml"
    stale.write_text("groups: []\n")
    diffs = differences(root)
    assert set(diffs) == {"alerts/service.rules.yml", "alerts/old.rules.yml"}
    assert "-    for: 9m" in diffs["alerts/service.rules.yml"]


def test_check_fails_with_the_fix_in_its_message(tmp_path, monkeypatch, capsys):
    root = _copy(tmp_path)
    (root / "dashboards/generated/slo.json").write_text("{}\n")
    monkeypatch.setattr(config, "ROOT", root)
    import mlobs.stackgen.generate as generate
    monkeypatch.setattr(generate, "differences", lambda: differences(root))
    import mlobs.stackgen.__main__ as entry
    monkeypatch.setattr(entry, "differences", lambda: differences(root))
    assert main(["check"]) == 1
    err = capsys.readouterr().err
    assert OUT_OF_DATE in err and "dashboards/generated/slo.json" in err


def test_a_hand_edit_of_a_kubernetes_manifest_is_reported_as_out_of_date(tmp_path):
    root = _copy(tmp_path)
    manifest = root / "deploy/kubernetes/base/vision.yaml"
    manifest.write_text(manifest.read_text().replace("runAsNonRoot: true", "runAsNonRoot: false", 1))
    assert set(differences(root)) == {"deploy/kubernetes/base/vision.yaml"}
