"""Starting HireMate as `make run` does, for the tests that need the real
processes, and the demo data as older versions seeded it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from bson import ObjectId
from pymongo.database import Database

from hiremate import auth
from hiremate.models import Role, User
from hiremate.ops.demo import DEMO_EMAIL, DEMO_FULL_NAME, PUBLISHED_DEMO_PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def start_launcher(env: Mapping[str, str]) -> subprocess.Popen[str]:
    """`python -m hiremate.ops.launcher` (what `make run` runs), its output
    and errors on one pipe to read as it comes."""
    return subprocess.Popen(
        [sys.executable, "-m", "hiremate.ops.launcher"],
        cwd=ROOT,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def published_demo_admin(db: Database, organization_id: ObjectId) -> User:
    """The demo admin with the password every start published before it
    became random per data folder."""
    return auth.create_user(
        db,
        email=DEMO_EMAIL,
        full_name=DEMO_FULL_NAME,
        password=PUBLISHED_DEMO_PASSWORD,
        organization_id=organization_id,
        role=Role.ADMIN,
    )
