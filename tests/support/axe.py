"""axe-core in a Playwright page: one place for where it is (installed by the
Makefile from npm, never downloaded at run time), which rules run, and what
its absence means (a skip on a developer's machine, a failure in CI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.chromium import require_file

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / ".venv" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0-2.2 A and AA, and axe's best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def require_axe() -> None:
    require_file(AXE, "`make dev` installs axe-core from npm")


def violations(page: Any) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now: id, impact, help and the nodes' targets."""
    require_axe()
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}})).violations"
        ".map((v) => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' '))}))",
        TAGS,
    )
    return found
