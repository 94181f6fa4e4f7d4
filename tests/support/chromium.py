"""Debian's Chromium, driven by Playwright for Python: one place for where it
is, how it is started on this machine, and what its absence means."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Never `playwright install` (it downloads and fails here). The network flags
# keep Chromium from calling out on a machine with no internet.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_required() -> bool:
    """In CI a missing browser is a failure, never a skip."""
    return os.environ.get("HIREMATE_REQUIRE_CHROMIUM") == "1" or bool(os.environ.get("CI"))


def require_file(path: Path, how_to_get_it: str) -> None:
    """Skip the calling test without ``path`` (a browser-test tool), or fail where the browser tests are required."""
    if path.exists():
        return
    reason = f"{path} is missing: {how_to_get_it}"
    if chromium_required():
        pytest.fail(reason + " (required here: HIREMATE_REQUIRE_CHROMIUM=1 or CI is set)", pytrace=False)
    pytest.skip(reason)


def require_chromium() -> None:
    require_file(CHROMIUM, "install Debian's chromium package (see README) to run the browser tests")


def launch(playwright: Any) -> Any:
    """A headless Chromium browser from a started Playwright."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
