"""How long model artifacts are kept once they leave service: long enough to replay their decisions.

Reg B (12 CFR 1002.12(b)) asks a lender to keep what a credit decision was based on for 25
months; for an automated decision, the inputs and the means to regenerate it. So an artifact
is kept for the retention period after it stops being the latest (its decisions end then), and
`prune` deletes only artifacts retired longer ago than that. When each version was retired is
kept beside the versions in `retired.json` (never inside a version: that would change its
content hash, which audit records name).
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

RETIRED = "retired.json"
DEFAULT_DAYS = 761.0  # 25 months of 30.44 days


def _now() -> datetime:
    return datetime.now(timezone.utc)


def retired(root: Path) -> dict[str, str]:
    """{version: ISO time it stopped being the latest} for one model's directory."""
    path = Path(root) / RETIRED
    return json.loads(path.read_text()) if path.exists() else {}


def retire(root: Path, version: str, now: datetime | None = None) -> None:
    """Note that `version` stopped being the latest now (the first time only)."""
    root = Path(root)
    marks = retired(root)
    if version in marks:
        return
    marks[version] = (now or _now()).isoformat()
    tmp = root / f".{RETIRED}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(marks, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, root / RETIRED)


def reinstate(root: Path, version: str) -> None:
    """`version` is the latest again (republished): it is in service, not retired."""
    root = Path(root)
    marks = retired(root)
    if marks.pop(version, None) is not None:
        tmp = root / f".{RETIRED}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(marks, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, root / RETIRED)


def prune(artifacts_dir: Path, keep_days: float = DEFAULT_DAYS, now: datetime | None = None) -> list[Path]:
    """Delete artifact versions retired more than keep_days ago; returns what went. The latest
    version of a model, and any version with no retirement noted, are always kept."""
    now = now or _now()
    gone = []
    for root in sorted(p for p in Path(artifacts_dir).iterdir() if p.is_dir()):
        latest_file = root / "LATEST"
        latest = latest_file.read_text().strip() if latest_file.exists() else None
        marks = retired(root)
        for version, when in sorted(marks.items()):
            directory = root / version
            if version == latest or not directory.is_dir():
                continue
            if datetime.fromisoformat(when) + timedelta(days=keep_days) <= now:
                shutil.rmtree(directory)
                gone.append(directory)
    return gone
