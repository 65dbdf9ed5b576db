"""Request data made safe to record, and the security events built from it."""

from __future__ import annotations

import io
import logging

import orjson

from mlobs.logs import JsonLogWriter, install
from mlobs.protect.events import SecurityEvents
from mlobs.protect.safe import safe_path, safe_text


def test_crlf_quotes_and_right_to_left_marks_become_visible_escapes():
    forged = ' client=alice reason=ok\r\nX "quoted" \u202eevil\\'
    safe = safe_text(forged)
    assert safe == ' client=alice reason=ok\\r\\nX \\"quoted\\" \\u202eevil\\\\'
    assert all(" " <= c <= "~" for c in safe)


def test_long_values_are_truncated_and_say_so():
    assert safe_text("a" * 500) == "a" * 64 + "..."


def test_the_path_is_recorded_as_sent_with_percent_encoding_kept():
    scope = {"path": "/ client=alice\r\nX", "raw_path": b"/%20client=alice%0d%0aX"}
    assert safe_path(scope) == "/%20client=alice%0d%0aX"


def test_a_security_event_is_a_fixed_message_with_escaped_fields_never_text_built_from_them():
    stream = io.BytesIO()
    handler = install(JsonLogWriter({"service": "t"}, stream=stream), "INFO")
    try:
        SecurityEvents(per_s=10).emit("auth_failure", reason="invalid", path="/x\r\nlevel=ERROR message=forged")
        handler.writer.flush()
    finally:
        logging.getLogger().removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    line = orjson.loads(lines[0])
    assert line["message"] == "security event" and line["level"] != "ERROR"
    assert line["path"] == "/x\\r\\nlevel=ERROR message=forged" and line["event"] == "auth_failure"
