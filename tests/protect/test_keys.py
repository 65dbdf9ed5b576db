from __future__ import annotations

import pytest

from mlobs.protect import ApiKeys, ProtectSettings, hash_key, new_key
from mlobs.protect.keys import presented_key


def test_a_key_maps_to_its_client_only_through_its_hash():
    key = new_key()
    keys = ApiKeys({"web": hash_key(key)})
    assert keys.client_for(key) == "web"
    assert keys.client_for(key + "x") is None and keys.client_for("") is None


def test_a_key_given_in_clear_instead_of_a_hash_is_refused():
    with pytest.raises(ValueError, match="SHA-256"):
        ApiKeys({"web": "my-secret-key"})


def test_keys_come_from_a_file_of_client_hash_lines_and_the_environment(tmp_path):
    a, b = new_key(), new_key()
    path = tmp_path / "keys"
    path.write_text(f"# clients\nbatch: {hash_key(a)}\n\n")
    keys = ApiKeys.from_settings(ProtectSettings(api_keys_file=path, api_keys={"web": hash_key(b)}))
    assert keys.clients == ("batch", "web") and keys.client_for(a) == "batch"


def test_settings_read_keys_from_nested_environment_variables(monkeypatch):
    from pydantic_settings import BaseSettings, SettingsConfigDict

    class Root(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="MLOBS_", env_nested_delimiter="__")
        protect: ProtectSettings = ProtectSettings()

    monkeypatch.setenv("MLOBS_PROTECT__API_KEYS", f'{{"web": "{hash_key("k")}"}}')
    monkeypatch.setenv("MLOBS_PROTECT__AUTH", "required")
    assert Root().protect.api_keys == {"web": hash_key("k")} and Root().protect.auth == "required"


@pytest.mark.parametrize("headers, expected", [
    ([(b"authorization", b"Bearer abc")], ("abc", None)),
    ([(b"x-api-key", b"abc")], ("abc", None)),
    ([], (None, "missing")),
    ([(b"authorization", b"Basic abc")], (None, "malformed")),
    ([(b"authorization", b"Bearer " + b"a" * 300)], (None, "malformed")),
    ([(b"x-api-key", "clé".encode())], (None, "malformed")),
])
def test_the_presented_key_is_read_from_either_header_or_the_failure_named(headers, expected):
    assert presented_key(headers) == expected


@pytest.mark.parametrize("headers, expected", [
    ([(b"authorization", b"Basic dXNlcjpwYXNz"), (b"x-api-key", b"abc")], (["abc"], None)),
    ([(b"authorization", b"Bearer one"), (b"x-api-key", b"two")], (["one", "two"], None)),
    ([(b"authorization", b"Basic dXNlcjpwYXNz")], ([], "malformed")),
    ([(b"user-agent", b"x")], ([], "missing")),
])
def test_every_credential_in_the_request_is_collected(headers, expected):
    from mlobs.protect.keys import presented_keys

    assert presented_keys(headers) == expected
