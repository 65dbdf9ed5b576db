"""Every reason code a service can answer is documented in docs/protection.md."""

from __future__ import annotations

import re
from pathlib import Path

from mlobs import errors
from mlobs.protect.budget import OVER_BUDGET
from mlobs.protect.strictjson import DUPLICATE_KEY

ROOT = Path(__file__).resolve().parents[2]
RAISED = re.compile(r'(?:InputRejected|Unavailable|super\(\).__init__)\(\s*"([a-z_]+)"'
                    r'|_answer\(\s*\w+,\s*\d+,\s*"([a-z_]+)"'
                    r'|_raw_response\(\s*\d+,\s*"[^"]+",\s*"([a-z_]+)"')


def codes_in_source() -> set[str]:
    found = set()
    for path in [*(ROOT / "src" / "mlobs").rglob("*.py"), *(ROOT / "services").rglob("*.py")]:
        for match in RAISED.finditer(path.read_text()):
            found.add(next(group for group in match.groups() if group))
    return found


def test_the_source_scan_finds_the_codes_it_should():
    found = codes_in_source()
    assert {"unauthorized", "too_many_pixels", "busy", "header_timeout", "audit_unavailable"} <= found


def test_every_reason_code_is_in_the_table_of_docs_protection():
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", (ROOT / "docs" / "protection.md").read_text(), re.MULTILINE))
    codes = codes_in_source() | set(errors._REASONS.values()) | {"invalid", OVER_BUDGET, DUPLICATE_KEY,
                                                                 "invalid_body", "not_found", "method_not_allowed",
                                                                 "http_error"}
    assert codes - documented == set(), f"undocumented reason codes: {sorted(codes - documented)}"


def test_a_validation_error_with_no_specific_code_is_answered_as_invalid():
    assert errors.reason_for({"type": "value_error"}) == "invalid"
    assert errors.reason_for({"type": "implausible_date"}) == "implausible_date"
