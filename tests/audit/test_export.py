from __future__ import annotations

from audit.factories import decision
from mlobs.audit.export import export_bundle, verify_bundle


def test_bundle_from_the_library_verifies_against_its_own_public_key(log, tmp_path):
    for i in range(25):
        log.append(decision(i))
    report = export_bundle(log, tmp_path / "bundle")
    assert report.ok and report.records == 25 and report.checkpoints_checked == 2
    assert verify_bundle(tmp_path / "bundle").ok


def test_bundle_with_a_dropped_line_fails_verification(log, tmp_path):
    for i in range(12):
        log.append(decision(i))
    export_bundle(log, tmp_path / "bundle")
    path = tmp_path / "bundle" / "records.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:5] + lines[6:]) + "\n")
    report = verify_bundle(tmp_path / "bundle")
    assert not report.ok and report.problem.seq == 6
