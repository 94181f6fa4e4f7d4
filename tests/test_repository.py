"""The repository is self-contained: the contracts live in docs/, and every
docs/ file the code cites is there (a clone has nothing beside it to read)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE_CONTRACTS = ("../shared", "shared/ARCHITECTURE", "shared/PROTOCOL", "shared/METRICS")
CITED_DOC = re.compile(r"docs/[a-z0-9-]+\.md")


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    keep = (".py", ".md", ".js", ".mjs", ".toml", ".txt", ".html", ".example")
    return [ROOT / name for name in listed if name.endswith(keep) or Path(name).name == "Makefile"]


def test_nothing_points_outside_the_repository_for_a_contract():
    offenders = [
        f"{path.relative_to(ROOT)}: {needle}"
        for path in _tracked_text_files()
        if path.is_file() and path != Path(__file__).resolve()  # this file names them to look for them
        for needle in OUTSIDE_CONTRACTS
        if needle in path.read_text(errors="replace")
    ]
    assert offenders == []


def test_every_cited_docs_file_exists():
    cited = {
        match
        for path in _tracked_text_files()
        if path.is_file() and not path.is_relative_to(ROOT / "docs")
        for match in CITED_DOC.findall(path.read_text(errors="replace"))
    }
    assert cited, "the code cites its contracts in docs/"
    assert sorted(name for name in cited if not (ROOT / name).is_file()) == []
