"""MkDocs hook: publish the alert runbooks (alerts/runbooks/*.md) as pages under runbooks/.

The runbooks stay beside the rules that link to them; the site shows the same files, with an
index made from their titles, so a new runbook appears without editing the docs.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File

RUNBOOKS = Path(__file__).resolve().parents[2] / "alerts" / "runbooks"


def on_files(files, config):
    rows = []
    for path in sorted(RUNBOOKS.glob("*.md")):
        files.append(File.generated(config, f"runbooks/{path.name}", abs_src_path=str(path)))
        title = path.read_text().splitlines()[0].lstrip("# ").strip()
        rows.append(f"- [{title}]({path.name})")
    index = ("# Runbooks\n\nEvery alert's `runbook_url` points at one of these pages; each starts with what "
             "the alert means, then the first checks, cheapest first.\n\n" + "\n".join(rows) + "\n")
    files.append(File.generated(config, "runbooks/index.md", content=index))
    return files
