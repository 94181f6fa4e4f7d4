"""``python -m hiremate webhook add|list|remove|redeliver``: one JSON line
with the secret (shown once), the list without secrets, refusals as one
line and exit code 2."""

from __future__ import annotations

import json

from hiremate import auth, webhooks
from hiremate import db as dbmod
from hiremate.scope import Scope
from tests.hiremate.ops.test_cli import _fast_bcrypt, cli, env, hiremate, one_error_line  # noqa: F401
from tests.support.webhook_receiver import receiver, verify


def test_add_prints_one_json_line_with_the_secret_and_list_never_shows_it(db, hiremate):  # noqa: F811
    auth.create_organization(db, "Acme")
    result = hiremate(
        "webhook",
        "add",
        "--org",
        "acme",
        "--url",
        "http://127.0.0.1:9/hooks",
        "--events",
        "attempt.completed,review.decided",
    )
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    added = json.loads(line)
    assert added["secret"].startswith("whsec_") and added["events"] == ["attempt.completed", "review.decided"]
    listed = hiremate("webhook", "list", "--org", "acme")
    assert listed.returncode == 0 and json.loads(listed.stdout)["id"] == added["endpoint_id"]
    assert added["secret"] not in listed.stdout
    [entry] = db[dbmod.AUDIT_LOG].find({"action": "webhook.endpoint_added"})
    assert entry["details"]["via"] == "cli"


def test_events_as_separate_words_remove_and_refusals(db, cli):  # noqa: F811
    auth.create_organization(db, "Acme")
    ok = cli(
        "webhook",
        "add",
        "--org",
        "Acme",
        "--url",
        "http://localhost:9/",
        "--events",
        "attempt.started",
        "attempt.expired",
    )
    assert ok.returncode == 0, ok.stderr
    endpoint_id = json.loads(ok.stdout)["endpoint_id"]
    assert json.loads(ok.stdout)["events"] == ["attempt.started", "attempt.expired"]
    for args, message in (
        (("--url", "http://169.254.169.254/latest/"), "https"),
        (("--url", "https://10.0.0.5/"), "private"),
        (("--url", "https://93.184.216.34/", "--events", "attempt.exploded"), "unknown event type"),
    ):
        refused = cli("webhook", "add", "--org", "Acme", *args)
        assert refused.returncode == 2 and message in one_error_line(refused)
    assert cli("webhook", "add", "--org", "nope", "--url", "http://localhost:9/").returncode == 2
    missing = cli("webhook", "remove", "--org", "Acme", "--id", "not-an-id")
    assert missing.returncode == 2 and "no such webhook endpoint" in one_error_line(missing)
    removed = cli("webhook", "remove", "--org", "Acme", "--id", endpoint_id)
    assert removed.returncode == 0 and json.loads(removed.stdout)["removed"] is True
    assert db[dbmod.WEBHOOK_ENDPOINTS].count_documents({}) == 0


def test_redeliver_tries_the_same_message_again(db, cli, app_env):  # noqa: F811
    organization = auth.create_organization(db, "Acme")
    scope = Scope(db, organization.id, None, is_admin=True)
    with receiver() as hook:
        _, secret = webhooks.add_endpoint(scope, hook.url, None, settings=app_env)
        webhooks.emit(db, organization.id, "attempt.started", {})
        webhooks.drain(db, app_env)
        [delivery] = db[dbmod.WEBHOOK_DELIVERIES].find({})
        result = cli("webhook", "redeliver", "--org", "Acme", "--delivery", str(delivery["_id"]))
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {
            "delivery_id": str(delivery["_id"]),
            "webhook_id": delivery["msg_id"],
            "status": "queued",
        }
        webhooks.drain(db, app_env)
        first, again = hook.received
    assert first.headers["webhook-id"] == again.headers["webhook-id"] and verify(secret, again.headers, again.body)
    unknown = cli("webhook", "redeliver", "--org", "Acme", "--delivery", "0" * 24)
    assert unknown.returncode == 2 and "no such webhook delivery" in one_error_line(unknown)
