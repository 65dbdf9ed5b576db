from __future__ import annotations

from mlobs.settings import Settings


def test_audit_settings_come_from_nested_env_and_default_under_a_base_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("MLOBS_AUDIT__RAW_RETENTION_DAYS", "3")
    settings = Settings(artifacts_dir=tmp_path / "artifacts", _env_file=None)
    audit = settings.audit.resolved(tmp_path / "audit")
    assert audit.raw_retention_days == 3
    assert audit.store_url == f"sqlite:///{tmp_path / 'audit' / 'audit.db'}"
    assert audit.subject_keys_path == tmp_path / "audit" / "keys" / "subject_keys.db"
