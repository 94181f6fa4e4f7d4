"""The candidate connection's state machine (ingest_server.connstate), without I/O,
and the states a real session goes through."""

# ruff: noqa: F401, F811 - fixtures imported from tests.support.ingest_helpers are used as arguments

from __future__ import annotations

import asyncio
import itertools

import pytest

from ingest_server.connstate import TRANSITIONS, ConnEvent, ConnMachine, ConnState
from tests.support.ingest_helpers import Client, all_tasks_messages, ingest_settings, issue, running_server, until

S, E = ConnState, ConnEvent

# What each event does, the spec in full: (from, event) -> to. Anything else is refused.
EXPECTED = {
    (S.OPENING, E.INFO_SENT): S.AWAITING_START,
    (S.AWAITING_START, E.SWITCH_EPOCH): S.SWITCHING_EPOCH,
    (S.ACTIVE, E.SWITCH_EPOCH): S.SWITCHING_EPOCH,
    (S.SWITCHING_EPOCH, E.EPOCH_TAKEN): S.ACTIVE,
    (S.ACTIVE, E.BEGIN_COMPLETION): S.COMPLETING,
    (S.COMPLETING, E.BEGIN_COMPLETION): S.COMPLETING,
    (S.COMPLETING, E.COMPLETION_REFUSED): S.ACTIVE,
    (S.CLOSING, E.FINISHED): S.CLOSED,
    **{
        (state, E.CLOSE): S.CLOSING
        for state in (S.OPENING, S.AWAITING_START, S.SWITCHING_EPOCH, S.ACTIVE, S.COMPLETING)
    },
    **{
        (state, event): state
        for state in (S.CLOSING, S.CLOSED)
        for event in (E.EPOCH_TAKEN, E.SWITCH_REFUSED, E.BEGIN_COMPLETION, E.COMPLETION_REFUSED, E.CLOSE)
    },
}
# A refused switch goes back where it came from (tested on its own below).
EXPECTED_BACK = {(S.SWITCHING_EPOCH, E.SWITCH_REFUSED)}

# A machine in each state, reached by allowed events only.
PATHS = {
    S.OPENING: [],
    S.AWAITING_START: [E.INFO_SENT],
    S.SWITCHING_EPOCH: [E.INFO_SENT, E.SWITCH_EPOCH],
    S.ACTIVE: [E.INFO_SENT, E.SWITCH_EPOCH, E.EPOCH_TAKEN],
    S.COMPLETING: [E.INFO_SENT, E.SWITCH_EPOCH, E.EPOCH_TAKEN, E.BEGIN_COMPLETION],
    S.CLOSING: [E.INFO_SENT, E.CLOSE],
    S.CLOSED: [E.INFO_SENT, E.CLOSE, E.FINISHED],
}


def fire(machine: ConnMachine, event: ConnEvent) -> None:
    match event:
        case E.INFO_SENT:
            machine.info_sent()
        case E.SWITCH_EPOCH:
            machine.switch_epoch()
        case E.EPOCH_TAKEN:
            machine.epoch_taken((machine.epoch or 0) + 1)
        case E.SWITCH_REFUSED:
            machine.switch_refused()
        case E.BEGIN_COMPLETION:
            machine.begin_completion()
        case E.COMPLETION_REFUSED:
            machine.completion_refused()
        case E.CLOSE:
            machine.close()
        case E.FINISHED:
            machine.finished()


def machine_in(state: ConnState) -> ConnMachine:
    machine = ConnMachine()
    for event in PATHS[state]:
        fire(machine, event)
    assert machine.state is state
    return machine


def test_the_table_is_the_spec():
    assert {key: value for key, value in TRANSITIONS.items() if key not in EXPECTED_BACK} == EXPECTED
    assert set(TRANSITIONS) - set(EXPECTED) == EXPECTED_BACK


@pytest.mark.parametrize(("state", "event"), sorted(EXPECTED, key=lambda k: (k[0].value, k[1].value)))
def test_allowed_transitions(state, event):
    machine = machine_in(state)
    fire(machine, event)
    assert machine.state is EXPECTED[state, event]


REFUSED = [
    (state, event)
    for state, event in itertools.product(ConnState, ConnEvent)
    if (state, event) not in EXPECTED and (state, event) not in EXPECTED_BACK
]


@pytest.mark.parametrize(("state", "event"), REFUSED, ids=[f"{s.name}-{e.name}" for s, e in REFUSED])
def test_refused_transitions_raise_and_change_nothing(state, event):
    machine = machine_in(state)
    epoch = machine.epoch
    with pytest.raises(RuntimeError, match=f"{event.value} is not allowed in state {state.name}"):
        fire(machine, event)
    assert (machine.state, machine.epoch) == (state, epoch)


def test_a_first_start_refused_waits_for_another_start():
    machine = machine_in(S.SWITCHING_EPOCH)
    machine.switch_refused()
    assert machine.state is S.AWAITING_START and not machine.started


def test_a_resume_refused_on_a_started_connection_keeps_it_active():
    machine = machine_in(S.ACTIVE)
    machine.switch_epoch()
    assert machine.started  # still holds its epoch while switching
    machine.switch_refused()
    assert machine.state is S.ACTIVE and machine.epoch == 1


def test_the_happy_path_and_its_answers():
    machine = ConnMachine()
    assert (machine.state, machine.epoch, machine.started, machine.closing) == (S.OPENING, None, False, False)
    machine.info_sent()
    machine.switch_epoch()
    machine.epoch_taken(7)
    assert (machine.state, machine.epoch, machine.started) == (S.ACTIVE, 7, True)
    assert machine.begin_completion() is True
    assert machine.begin_completion() is False  # a second completion does nothing
    assert machine.close() is True
    assert machine.closing and machine.close() is False
    machine.finished()
    assert machine.state is S.CLOSED and machine.closing


def test_a_session_finishes_once_and_only_after_closing():
    machine = machine_in(S.ACTIVE)
    with pytest.raises(RuntimeError):
        machine.finished()
    machine.close()
    machine.finished()
    assert machine.state is S.CLOSED
    with pytest.raises(RuntimeError):
        machine.finished()


def test_work_under_way_when_closing_finishes_without_reopening():
    machine = machine_in(S.SWITCHING_EPOCH)
    machine.close()  # taken over while its own start was in flight
    machine.epoch_taken(3)
    assert (machine.state, machine.epoch) == (S.CLOSING, 3)
    assert machine.begin_completion() is True  # a stored last task still completes the attempt
    assert machine.state is S.CLOSING


def test_takeover_needs_an_older_epoch_and_ignores_reports_while_switching():
    machine = ConnMachine()
    assert not machine.is_taken_over(5)  # holds no epoch yet
    machine.info_sent()
    machine.switch_epoch()
    machine.epoch_taken(2)
    assert machine.is_taken_over(3) and machine.is_taken_over(3, reported=True)
    assert not machine.is_taken_over(2) and not machine.is_taken_over(1)
    machine.switch_epoch()  # a resume: the bump the change stream reports may be its own
    assert not machine.is_taken_over(3, reported=True)
    assert machine.is_taken_over(3)  # another session of this server is known to hold 3


# ---------------------------------------------------------------- a real session drives it


async def test_a_session_is_active_once_started_and_closed_once_gone(ingest_settings, db):
    issued = issue(db, count=1)
    async with running_server(ingest_settings, db) as server:
        async with Client.open(server.port, issued.token) as client:
            assert server.sessions == {}  # registered once it holds an epoch
            await client.start()
            (session,) = server.sessions[issued.attempt_id]
            assert (session.state, session.epoch) == (S.ACTIVE, 1)
        await until(lambda: issued.attempt_id not in server.sessions)
        assert session.state is S.CLOSED


async def test_a_completed_session_and_a_taken_over_one_end_closed(ingest_settings, db):
    issued = issue(db, count=1)
    async with running_server(ingest_settings, db) as server, Client.open(server.port, issued.token) as old:
        key = (await old.start())["session_key"]
        (first,) = server.sessions[issued.attempt_id]
        async with Client.open(server.port, issued.token) as new:
            await new.resume(key)
            assert (await old.closed())[0] == 4409
            await until(lambda: first.state is S.CLOSED)
            (second,) = server.sessions[issued.attempt_id]
            assert (second.state, second.epoch) == (S.ACTIVE, 2)
            answers = await new.send_all(all_tasks_messages(issued.tasks))
            assert all(answer["type"] == "ack" for answer in answers)
            code, seen = await new.closed()
            assert code == 1000 and seen[-1]["type"] == "assessment_completed"
            await until(lambda: second.state is S.CLOSED)
