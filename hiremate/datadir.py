"""The data folder (``HIREMATE_DATA_DIR``): private to the user who runs HireMate.

It holds the embedded store's files, the generated local secret, the demo
login's password, lock and log files; anyone who can read it can sign in as
anyone. So the folder is created 0700 (and tightened to 0700 when it exists
with group or other bits and belongs to this user), and the files HireMate
writes into it are created 0600.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

from hiremate.errors import ConfigError

DIR_MODE = 0o700
FILE_MODE = 0o600


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) 0700; tighten it to 0700 when it
    exists looser and this user owns it. Returns ``path``."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_mode & 0o077 and info.st_uid == os.geteuid():
        with contextlib.suppress(OSError):  # a mount that refuses modes: nothing more to do here
            path.chmod(DIR_MODE)
    return path


def is_private(path: Path) -> bool:
    """No group or other permission bits."""
    return not stat.S_IMODE(path.stat().st_mode) & 0o077


def read_or_create(path: Path, generate: Callable[[], str]) -> str:
    """The text of ``path``, creating it first with ``generate()`` when it does
    not exist: exclusive create, mode 0600, so of several processes starting
    together exactly one writes it and every one reads the same text."""
    ensure_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(generate())
    for _ in range(100):
        text = path.read_text().strip()
        if text:
            return text
        time.sleep(0.01)  # the creator has not written yet
    raise ConfigError(f"{path} is empty: delete it and start again")


def open_private_log(path: Path) -> int:
    """A file descriptor appending to ``path``, created 0600 in a private folder."""
    ensure_private_dir(path.parent)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
