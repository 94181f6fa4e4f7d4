"""Abuse: hostile input through the socket, the recruiter pages and the exports.

Already covered elsewhere (not repeated here): token reuse after start and a
wrong or missing session key (test_ingest_session: 4403 token_already_used),
expired, locked, completed and re-issued links (test_ingest_handshake,
test_ingest_http, test_ingest_session), forged, expired, malformed and
other-organisation live tickets (test_ingest_live: 401/403), login throttling
(per account and client, per client, sign-ups; a spoofed X-Forwarded-For) and
its message in the login form, the login hand-over opened in another browser
and logout by GET (test_auth, test_app), the page state's script escaping for
one name (test_ingest_http).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from hiremate import attempts, reports, task_library, tasks
from hiremate import db as dbmod
from hiremate.models import CandidateInfo, EventType
from tests.support.abuse_helpers import check_stored_events
from tests.support.ingest_helpers import (
    OPEN_LIMITS,
    Client,
    http_get,
    ingest_settings,  # noqa: F401 - fixture
    issue,
    minimal_task_messages,
    running_server,
    server,  # noqa: F401 - fixture
    stored_seqs,
    with_limits,
)
from tests.support.page_helpers import (  # noqa: F401
    Org,
    _fast_bcrypt,
    click,
    make_org,
    open_page,
    run_ok,
    seed_completed,
    texts,
    unescape,
)

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
LINK = "[x](javascript:alert(1))"
# An image beacon (loads from the attacker's host when shown) and a phishing link.
MARKDOWN = "![x](http://evil/b.png) [click](http://evil)"
HOSTILE = [SCRIPT, IMG, LINK, MARKDOWN]
FORMULAS = ['=HYPERLINK("http://x")', "+cmd", "-1+2", "@SUM(1)", "\t=1+1", "\r=1+1"]
# Found passing through unchanged: a formula after leading whitespace or a
# line break, and the full-width forms spreadsheets also read as formulas.
HIDDEN_FORMULAS = ["\n=1+1", " =1+1", "\r\n +cmd", "\u3000-1+2", "＝1+1", "＋cmd", "－1+2", "＠SUM(1)", " ＝1+1"]
FORMULAS += HIDDEN_FORMULAS


# ---------------------------------------------------------------- the socket


async def test_unstorable_values_are_refused_and_hurt_no_one_else(server, db):  # noqa: F811
    """Found by the fuzzing: integers beyond 64 bits and lone surrogates passed
    validation, then failed the whole group commit (other candidates' writes
    in it too) and closed the socket with 1013 at every retry. Now they are
    invalid_payload, and the connection goes on."""
    victim, other = issue(db, count=1), issue(db, count=1)
    async with Client.open(server.port, victim.token) as a, Client.open(server.port, other.token) as b:
        await a.start()
        await b.start()
        task = victim.tasks[0]
        option = task.options[0].id
        await a.send_event(minimal_task_messages(task, 0, 1)[0])
        hostile = [
            ("option_viewed", {"option_id": option, "view_duration_ms": 2**64}),
            ("option_viewed", {"option_id": option, "view_duration_ms": 2**63}),
            ("focus_lost", {"trigger": "\ud800"}),
            ("idle_detected", {"idle_duration_ms": 10**30}),
        ]
        for kind, payload in hostile:
            message = {"seq": 2, "task_id": str(task.id), "event_type": kind, "payload": payload}
            # The other candidate writes in the same commit window.
            focus = {"seq": 0, "task_id": str(other.tasks[0].id), "event_type": "focus_lost", "payload": {}}
            focus["seq"] = len(stored_seqs(db, other.attempt_id)) + 1
            answer_a, answer_b = await asyncio.gather(a.send_event(message), b.send_event(focus))
            assert answer_a == {
                "type": "error",
                "seq": 2,
                "code": "invalid_payload",
                "message": answer_a["message"],
            }, answer_a
            assert answer_b["type"] == "ack", answer_b
        # Absurd clocks: a refusal, or a clamped event time; never a crash.
        refused = {"seq": 2, "task_id": str(task.id), "event_type": "focus_lost", "payload": {}}
        answer = await a.send_event(refused, client_timestamp="0001-01-01T00:00:00+23:59")
        assert answer["code"] == "invalid_payload"
        answer = await a.send_event(
            refused, client_timestamp="9999-12-31T23:59:59.999Z", sent_at="0001-01-01T00:00:00Z"
        )
        assert answer["type"] == "ack" and answer["seq"] == 2
        answer = await a.send_event(
            dict(refused, seq=3, event_type="focus_gained"),
            client_timestamp="0001-01-01T00:00:00Z",
            sent_at="9999-12-31T23:59:59.999Z",
        )
        assert answer["type"] == "ack" and answer["seq"] == 3
        rest = minimal_task_messages(task, 0, 3)[1:]
        answers = await a.send_all(rest)
        assert answers[-1]["type"] == "ack"
        assert (await a.recv())["type"] == "assessment_completed"
    attempt = db[dbmod.ATTEMPTS].find_one({"_id": victim.attempt_id})
    assert attempt["status"] == "completed"
    assert check_stored_events(db, attempt) == 3 + len(rest)
    stored = db[dbmod.EVENTS].find_one({"attempt_id": victim.attempt_id, "sequence_number": 2})
    assert stored["event_time"] <= stored["timestamp"]


async def test_oversized_frame_stores_nothing_and_a_resume_continues(server, db):  # noqa: F811
    issued = issue(db, count=1)
    task = issued.tasks[0]
    messages = minimal_task_messages(task, 0, 1)
    async with Client.open(server.port, issued.token) as client:
        key = (await client.start())["session_key"]
        assert (await client.send_event(messages[0]))["type"] == "ack"
        big = dict(messages[1], payload=dict(messages[1]["payload"], padding="x" * (64 * 1024)))
        await client.send_if_open({"type": "event", **big})
        code, seen = await client.closed()
        assert code == 1009 and seen == []
    assert stored_seqs(db, issued.attempt_id) == [1]
    async with Client.open(server.port, issued.token) as client:
        assert (await client.resume(key))["last_sequence_number"] == 1
        await client.send_all(messages[1:])
        assert (await client.recv())["type"] == "assessment_completed"
    assert stored_seqs(db, issued.attempt_id) == list(range(1, len(messages) + 1))


async def _handshake(port: int, path: str, *, headers: dict[str, str] | None = None, source: str = "127.0.0.1") -> int:
    """A raw WebSocket upgrade request; returns the HTTP status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *[f"{k}: {v}" for k, v in (headers or {}).items()],
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    return int(status_line.split()[1])


async def test_connection_flood_is_bounded_and_others_are_still_served(settings, db):
    limit = 30  # docs/protocol.md's default: 30 new connections a minute per client address
    flood_settings = with_limits(settings, **{**OPEN_LIMITS.model_dump(), "connections_per_minute": limit})
    assert not flood_settings.trust_proxy
    issued = issue(db, count=1)
    async with running_server(flood_settings, db) as running:
        path = "/ws/assessment/" + "A" * 43  # a well-formed token nobody has: 404 while allowed
        statuses = await asyncio.gather(*(_handshake(running.port, path) for _ in range(60)))
        assert sorted(statuses) == [404] * limit + [429] * (60 - limit)
        # A spoofed X-Forwarded-For does not evade the limit (HIREMATE_TRUST_PROXY is off).
        spoofed = await asyncio.gather(
            *(_handshake(running.port, path, headers={"X-Forwarded-For": f"10.0.0.{i}"}) for i in range(1, 11))
        )
        assert spoofed == [429] * 10
        # The flooding address cannot even reach a real link ...
        assert await _handshake(running.port, f"/ws/assessment/{issued.token}") == 429
        # ... while everyone else is served: plain HTTP, and a candidate from another address.
        assert (await http_get(running.port, "/healthz")).json() == {"status": "ok", "db": "ok"}
        assert await _handshake(running.port, f"/ws/assessment/{issued.token}", source="127.0.0.2") == 101


# ---------------------------------------------------------------- the candidate page


STATE = re.compile(rb'<script id="hm-state" type="application/json">(.*?)</script>', re.S)


@pytest.mark.parametrize("name", [*HOSTILE, "</script><!--<script>", "a & b <b>c</b>"])
async def test_candidate_page_state_escapes_hostile_names(server, db, name):  # noqa: F811
    issued = issue(db, name=name, position=name)
    answer = await http_get(server.port, f"/a/{issued.token}")
    assert answer.status == 200
    blocks = STATE.findall(answer.body)
    assert len(blocks) == 1
    block = blocks[0]
    assert not set(block.decode()) & set("<>&"), block  # escaped as \u003c \u003e \u0026
    state = json.loads(block)
    assert name in json.dumps(state, ensure_ascii=False)  # the name is carried intact, as data
    for raw in (b"<script>alert", b"<img src=x", b"<b>c</b>"):
        assert raw not in answer.body


# ---------------------------------------------------------------- the recruiter app

PAGES = [
    "app_pages/dashboard.py",
    "app_pages/candidates.py",
    "app_pages/profile.py",
    "app_pages/compare.py",
    "app_pages/live.py",
    "app_pages/exports.py",
    "app_pages/assessments.py",
    "app_pages/tasks.py",
    "app_pages/team.py",
]


def _everything(at: AppTest) -> str:
    """All a page shows: text, widget labels and options, and table cells."""
    parts = [texts(at)]
    for frame in at.dataframe:
        parts.append(frame.value.to_csv())
    for kind in ("table", "json", "metric"):
        parts += [str(getattr(e, "value", e)) for e in at.get(kind)]
    for widget in [*at.selectbox, *at.multiselect]:
        parts += [str(option) for option in widget.options]
    return "\n".join(parts)


def _rendered_as_markup(at: AppTest) -> list[str]:
    """What the page hands the browser as markdown or HTML: markdown, captions,
    headings and alerts (Streamlit renders all of them as markdown)."""
    out = [str(e.value) for e in at.markdown]
    for kind in ("caption", "title", "header", "subheader", "success", "info", "warning", "error"):
        out += [str(e.value) for e in getattr(at, kind)]
    out += [str(e.proto.body) for e in at.get("html")]
    return out


# A tag, an image or a link that markdown would act on: not behind a
# backslash (session.escape_markdown escapes every markdown character).
LIVE_MARKUP = re.compile(r"(?<!\\)<\s*/?\s*(script|img)|(?<!\\)!\[|(?<!\\)\]\(", re.I)


def _hostile_org(db) -> tuple[Org, Any]:
    org = make_org(db, "Evil Corp")
    attempt = seed_completed(org, name=f"{SCRIPT} {IMG} {LINK} {MARKDOWN}", position=f"{IMG} {LINK} {MARKDOWN}")
    reasoning = f"I would {SCRIPT} then {IMG} and {LINK} because the data is incomplete."
    db[dbmod.EVENTS].update_many(
        {"attempt_id": attempt.id, "event_type": EventType.REASONING_SUBMITTED.value},
        {"$set": {"payload.final_text": reasoning, "payload.word_count": len(reasoning.split())}},
    )
    return org, attempt


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_hostile_candidate_text_is_inert_on_every_page(app_env, db, page):
    org, attempt = _hostile_org(db)
    query = {"attempt": str(attempt.id), "email": attempt.candidate_info.email, "attempts": str(attempt.id)}
    at = open_page(db, org.user, page, timeout=30, **query)
    for markup in _rendered_as_markup(at):
        assert not LIVE_MARKUP.search(markup), (page, markup)
    assert not [e for e in at.markdown if e.proto.allow_html and "alert(1)" in e.value]


@pytest.mark.slow
def test_hostile_reasoning_and_name_are_shown_as_text_on_the_profile(app_env, db):
    org, attempt = _hostile_org(db)
    at = open_page(db, org.user, "app_pages/profile.py", timeout=30, attempt=str(attempt.id))
    shown = _everything(at)
    assert SCRIPT in shown  # shown, as text (in a table cell or a text element) ...
    for markup in _rendered_as_markup(at):  # ... never as markup
        assert not LIVE_MARKUP.search(markup), markup


def _assert_no_live_markup(at: AppTest) -> None:
    for markup in _rendered_as_markup(at):
        assert not LIVE_MARKUP.search(markup), markup


def test_a_name_with_markdown_stays_text_when_its_assessment_is_locked(app_env, db):
    """Found by attacking a running stack: after locking, "The assessment of
    <name> is locked." rendered the name's image (a beacon fetched from the
    attacker's host) and its link."""
    org = make_org(db, "Markdown Ltd")
    task = tasks.create_task(org.scope, next(iter(task_library.LIBRARY.values())))
    issued = attempts.issue_attempt(
        org.scope,
        candidate=CandidateInfo(name=MARKDOWN, email="mark@example.com", position=MARKDOWN),
        task_ids=[task.id],
    )
    attempt_id = issued.attempt.id
    at = org.open_page("app_pages/assessments.py")
    click(at, f"assess_lock_{attempt_id}")
    assert f"Lock the assessment of {MARKDOWN}?" in texts(at)  # the confirmation ...
    _assert_no_live_markup(at)
    at.text_input(key=f"assess_lock_reason_{attempt_id}").input(MARKDOWN)
    click(at, f"assess_lock_confirm_{attempt_id}")
    assert [unescape(s.value) for s in at.success] == [f"The assessment of {MARKDOWN} is locked."]  # ... the flash
    assert f"Reason: {MARKDOWN}" in texts(at)  # ... and the row, with its reason
    _assert_no_live_markup(at)


def test_a_task_title_with_markdown_stays_text_in_every_task_message(app_env, db):
    """Found likewise: "Task “<title>” created/saved/deleted/restored." rendered
    the title's image and link."""
    org = make_org(db, "Markdown Ltd")
    at = org.open_page("app_pages/tasks.py")
    click(at, "tasks_new")
    at.text_input(key="tasks_f_title").input(MARKDOWN)
    at.text_area(key="tasks_f_scenario").input("A customer reports an outage at 6pm on a Friday.")
    for number, text in ((1, "Call the on-call engineer now."), (2, "Wait until Monday.")):
        at.text_area(key=f"tasks_f_opt_opt_{number}_text").input(text)
        at.text_input(key=f"tasks_f_opt_opt_{number}_tags").input("cautious")
    click(at, "tasks_save")
    flashes = [unescape(s.value) for s in at.success]
    _assert_no_live_markup(at)
    task = db[dbmod.TASKS].find_one({"title": MARKDOWN})
    assert task is not None, [e.value for e in at.error]
    task_id = task["_id"]

    click(at, f"tasks_edit_{task_id}")
    at.text_input(key="tasks_f_title").input(MARKDOWN + " (2)")
    click(at, "tasks_save")
    flashes += [unescape(s.value) for s in at.success]
    _assert_no_live_markup(at)
    click(at, f"tasks_delete_{task_id}")
    flashes += [unescape(s.value) for s in at.success]
    _assert_no_live_markup(at)
    at.selectbox(key="tasks_filter_status").select("Deleted")
    run_ok(at)
    click(at, f"tasks_restore_{task_id}")
    flashes += [unescape(s.value) for s in at.success]
    _assert_no_live_markup(at)
    assert flashes == [
        f"Task “{MARKDOWN}” created.",
        f"Task “{MARKDOWN} (2)” saved.",
        f"Task “{MARKDOWN} (2)” deleted. Show “Deleted” tasks to restore it.",
        f"Task “{MARKDOWN} (2)” restored.",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_no_page_shows_another_organisation_s_candidates(app_env, db, page):
    theirs = make_org(db, "Other Org")
    their_attempt = seed_completed(theirs, name="Zelda Secretname", email="zelda.secret@other.test")
    their_second = seed_completed(theirs, name="Yorick Hiddenname", email="yorick.hidden@other.test")
    mine = make_org(db, "My Org")
    seed_completed(mine, name="Mona Mine")
    for query in (
        {"attempt": str(their_attempt.id)},
        {"email": "zelda.secret@other.test"},
        {"attempts": f"{their_attempt.id},{their_second.id}"},
        {"attempt": str(their_attempt.id), "email": "zelda.secret@other.test", "attempts": str(their_second.id)},
    ):
        at = open_page(db, mine.user, page, timeout=30, **query)
        shown = _everything(at) + "\n" + "\n".join(_rendered_as_markup(at))
        asked = " ".join(query.values())  # a page may say what it did not find
        for secret in (
            "Zelda",
            "Secretname",
            "zelda.secret@other.test",
            "Yorick",
            "yorick.hidden@other.test",
            str(their_attempt.id),
            str(their_second.id),
        ):
            assert secret in asked or secret not in shown, (page, query, secret)


# ---------------------------------------------------------------- exports


def _cells(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline="")))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_formula_injection_is_neutralised_in_every_export(db):
    org = make_org(db, "Formula Inc")
    attempts = []
    for index, formula in enumerate(FORMULAS):
        attempt = seed_completed(
            org,
            name=f"{formula} {index}" if index % 2 else formula,
            email=f"cand{index}@example.com",
            position=FORMULAS[(index + 1) % len(FORMULAS)],
            phone=FORMULAS[(index + 2) % len(FORMULAS)],
        )
        db[dbmod.EVENTS].update_many(
            {"attempt_id": attempt.id, "event_type": EventType.REASONING_SUBMITTED.value},
            {"$set": {"payload.final_text": formula, "payload.word_count": len(formula.split())}},
        )
        attempts.append(attempt)
    scope = org.scope
    exports = {
        "candidates": reports.candidates_csv(scope),
        "per-task metrics": reports.per_task_metrics_csv(scope),
        "events": reports.events_csv(scope),
        "candidates raw": reports.candidates_csv(scope, style="raw"),
        "per-task metrics raw": reports.per_task_metrics_csv(scope, style="raw"),
        "events raw": reports.events_csv(scope, style="raw"),
        "compare": reports.compare_csv(scope, [a.id for a in attempts[:4]]),
    }
    for attempt in attempts:
        exports[f"metrics {attempt.id}"] = reports.attempt_metrics_csv(scope, attempt.id)
        exports[f"events {attempt.id}"] = reports.attempt_events_csv(scope, attempt.id)
    dangerous = ("=", "+", "-", "@", "＝", "＋", "－", "＠")
    for name, data in exports.items():
        rows = _cells(data)
        assert len(rows) > 1, name
        numbers = 0
        for row in rows:
            for cell in row:
                if _is_number(cell):
                    numbers += 1  # numbers stay numbers (a negative one keeps its sign)
                    continue
                assert not cell.startswith(("\t", "\r")), (name, cell)
                assert not cell.lstrip().startswith(dangerous), (name, cell)
        assert numbers > 0 or name.startswith("events"), name
        # The candidate's text is all there, behind its quote.
        text = data.decode("utf-8-sig")
        if name == "candidates":
            for formula in FORMULAS:
                assert "'" + formula in text or "'" + formula.replace('"', '""') in text, formula
