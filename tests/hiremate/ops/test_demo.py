"""The demo login: a random password per data folder (never the one the README
once published), replaced where a demo still has the published one, never
reset when somebody changed it, and seeded on request in every configuration."""

from __future__ import annotations

import stat
import threading

import pytest

from hiremate import auth
from hiremate import db as dbmod
from hiremate import settings as settingsmod
from hiremate.auth import AuthError, create_organization, create_user
from hiremate.models import Role
from hiremate.ops.cli import main
from hiremate.ops.demo import (
    DEMO_EMAIL,
    DEMO_FULL_NAME,
    DEMO_KIT,
    DEMO_ORG_NAME,
    DEMO_ORG_SLUG,
    PUBLISHED_DEMO_PASSWORD,
    demo_password,
    new_demo_password,
    seed_demo,
)
from tests.support.stack import published_demo_admin


@pytest.fixture(autouse=True)
def _fast_bcrypt(monkeypatch):
    monkeypatch.setattr(auth, "_BCRYPT_ROUNDS", 4)


def test_the_demo_password_is_random_per_data_folder_and_kept_private(tmp_path):
    first = demo_password(tmp_path / "one")
    assert demo_password(tmp_path / "one") == first  # stable across starts
    assert demo_password(tmp_path / "two") != first
    assert first != PUBLISHED_DEMO_PASSWORD
    assert auth.password_problems(first, email=DEMO_EMAIL) == []
    path = tmp_path / "one" / "demo-password"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len({new_demo_password() for _ in range(50)}) == 50


def test_concurrent_first_starts_agree_on_the_password(tmp_path):
    barrier = threading.Barrier(4)
    seen: list[str] = []

    def read() -> None:
        barrier.wait()
        seen.append(demo_password(tmp_path))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 4 and len(set(seen)) == 1


def test_a_new_demo_admin_gets_the_given_password_and_the_banner_shows_it(db):
    password = new_demo_password()
    result = seed_demo(db, password)
    assert result.user_created and result.password_works and not result.password_replaced
    assert result.login_line == f"  demo login      {DEMO_EMAIL} / {password}"
    user = auth.authenticate(db, DEMO_EMAIL, password)
    assert user.role == Role.ADMIN
    with pytest.raises(AuthError):
        auth.authenticate(db, DEMO_EMAIL, PUBLISHED_DEMO_PASSWORD)
    # Nothing on the user asks for a password change (the demo is for trying the product).
    doc = db[dbmod.USERS].find_one({"email": DEMO_EMAIL})
    assert not doc.get("must_change_password")
    # A kit, so bulk issue works at once; seeding again adds no second one.
    assert [kit["name"] for kit in db[dbmod.KITS].find({"organization_id": result.organization_id})] == [DEMO_KIT]
    seed_demo(db, password)
    assert db[dbmod.KITS].count_documents({"organization_id": result.organization_id}) == 1


def _legacy_demo(db):
    """A demo organisation as every start seeded it before: the published password."""
    organization = create_organization(db, DEMO_ORG_NAME, slug=DEMO_ORG_SLUG)
    return published_demo_admin(db, organization.id)


def test_a_demo_with_the_published_password_gets_the_random_one_and_its_sessions_end(db):
    legacy = _legacy_demo(db)
    stolen = auth.start_session(db, legacy, days=7)  # somebody on the network used the README
    password = new_demo_password()

    result = seed_demo(db, password)

    assert result.password_replaced and result.password_works and not result.user_created
    assert result.user_id == legacy.id
    assert "published demo password replaced" in str(result)
    assert result.login_line.endswith(f"/ {password}")
    assert auth.authenticate(db, DEMO_EMAIL, password).id == legacy.id
    with pytest.raises(AuthError):
        auth.authenticate(db, DEMO_EMAIL, PUBLISHED_DEMO_PASSWORD)
    assert auth.user_for_session(db, stolen) is None

    again = seed_demo(db, password)
    assert not again.password_replaced and again.password_works
    assert "already present" in str(again)


def test_a_demo_password_somebody_changed_is_left_alone_and_the_banner_says_so(db):
    organization = create_organization(db, DEMO_ORG_NAME, slug=DEMO_ORG_SLUG)
    create_user(
        db,
        email=DEMO_EMAIL,
        full_name=DEMO_FULL_NAME,
        password="chosen-by-them-42",
        organization_id=organization.id,
        role=Role.ADMIN,
    )
    result = seed_demo(db, new_demo_password())
    assert not result.password_replaced and not result.password_works
    assert result.password not in result.login_line
    assert "no longer signs in" in result.login_line
    auth.authenticate(db, DEMO_EMAIL, "chosen-by-them-42")


def test_seed_demo_seeds_on_request_with_the_demo_off_and_a_uri(app_env, db, monkeypatch, capsys, tmp_path):
    # app_env sets HIREMATE_MONGODB_URI: with it (or HIREMATE_DEMO=0) `make run`
    # never seeds by itself, but the command still does when asked.
    monkeypatch.setenv("HIREMATE_DEMO", "0")
    settingsmod.get_settings.cache_clear()
    assert main(["seed-demo"]) == 0
    out = capsys.readouterr().out
    assert f"demo login      {DEMO_EMAIL} / {demo_password(tmp_path)}\n" in out
    assert auth.authenticate(db, DEMO_EMAIL, demo_password(tmp_path)).role == Role.ADMIN
