"""The candidate connection's life cycle: a sans-I/O state machine.

Modelled on ``websockets.protocol`` and its ``State``: nothing here touches a
socket, the database or the event loop. ``CandidateSession`` (the asyncio
wrapper in ``session.py``) tells the ``ConnMachine`` what happened, one
``ConnEvent`` at a time, and asks it what the connection may do. Every change
of ``ConnState`` is an entry of ``TRANSITIONS``; an event the table does not
allow in the current state is a bug in the wrapper and raises
``RuntimeError``, leaving the state as it was.

Once CLOSING (or CLOSED), the events of work already under way are taken
without a change of state: a start or resume whose compare-and-set wins still
records its epoch, a completion begun still completes the attempt (its last
task is stored), a refusal changes nothing.
"""

from __future__ import annotations

from enum import Enum


class ConnState(Enum):
    OPENING = "opening"
    """Upgraded; ``assessment_info`` is not sent yet and nothing is read."""

    AWAITING_START = "awaiting_start"
    """Waiting for ``start`` or ``resume``; events are answered ``not_started``."""

    SWITCHING_EPOCH = "switching_epoch"
    """A ``start``/``resume`` compare-and-set is moving the attempt's session
    epoch. Until it answers, an epoch bump the change stream reports may be
    this connection's own, so it does not count as a takeover."""

    ACTIVE = "active"
    """Holds the attempt's session epoch: events are validated and committed,
    tasks are served."""

    COMPLETING = "completing"
    """The last task is stored: the attempt is being completed and profiled, once."""

    CLOSING = "closing"
    """Closing (completed, taken over, refused, failed, or the peer went away):
    no further message is read and queued answers are dropped; work already
    under way finishes."""

    CLOSED = "closed"
    """The session is over and unregistered."""


class ConnEvent(Enum):
    INFO_SENT = "info_sent"  # assessment_info went out
    SWITCH_EPOCH = "switch_epoch"  # a start or resume moves the session epoch
    EPOCH_TAKEN = "epoch_taken"  # ... and its compare-and-set won
    SWITCH_REFUSED = "switch_refused"  # ... or lost (attempt closed)
    BEGIN_COMPLETION = "begin_completion"  # the last task is stored
    COMPLETION_REFUSED = "completion_refused"  # the attempt ended otherwise first
    CLOSE = "close"  # completed, taken over, refused (4403), failed, peer gone
    FINISHED = "finished"  # the session's run is over


BACK = None
"""The target of a refused switch: the state the switch started from."""

# Work under way when the connection started closing finishes without reopening it.
_UNDER_WAY = (
    ConnEvent.EPOCH_TAKEN,
    ConnEvent.SWITCH_REFUSED,
    ConnEvent.BEGIN_COMPLETION,
    ConnEvent.COMPLETION_REFUSED,
    ConnEvent.CLOSE,
)
_OPEN = (ConnState.OPENING, ConnState.AWAITING_START, ConnState.SWITCHING_EPOCH, ConnState.ACTIVE, ConnState.COMPLETING)

TRANSITIONS: dict[tuple[ConnState, ConnEvent], ConnState | None] = {
    (ConnState.OPENING, ConnEvent.INFO_SENT): ConnState.AWAITING_START,
    (ConnState.AWAITING_START, ConnEvent.SWITCH_EPOCH): ConnState.SWITCHING_EPOCH,
    (ConnState.ACTIVE, ConnEvent.SWITCH_EPOCH): ConnState.SWITCHING_EPOCH,  # a resume on a started connection
    (ConnState.SWITCHING_EPOCH, ConnEvent.EPOCH_TAKEN): ConnState.ACTIVE,
    (ConnState.SWITCHING_EPOCH, ConnEvent.SWITCH_REFUSED): BACK,
    (ConnState.ACTIVE, ConnEvent.BEGIN_COMPLETION): ConnState.COMPLETING,
    (ConnState.COMPLETING, ConnEvent.BEGIN_COMPLETION): ConnState.COMPLETING,  # already at it
    (ConnState.COMPLETING, ConnEvent.COMPLETION_REFUSED): ConnState.ACTIVE,
    **{(state, ConnEvent.CLOSE): ConnState.CLOSING for state in _OPEN},
    (ConnState.CLOSING, ConnEvent.FINISHED): ConnState.CLOSED,
    **{(ConnState.CLOSING, event): ConnState.CLOSING for event in _UNDER_WAY},
    **{(ConnState.CLOSED, event): ConnState.CLOSED for event in _UNDER_WAY},
}


class ConnMachine:
    """The state of one candidate connection, and the session epoch it holds."""

    def __init__(self) -> None:
        self.state = ConnState.OPENING
        self.epoch: int | None = None  # the attempt's session epoch, from the first start/resume won
        self._switched_from: ConnState | None = None

    def __repr__(self) -> str:
        return f"ConnMachine({self.state.name}, epoch={self.epoch})"

    def _fire(self, event: ConnEvent) -> ConnState:
        """Apply ``event``; returns the state it left."""
        before = self.state
        if (before, event) not in TRANSITIONS:
            raise RuntimeError(f"candidate connection: {event.value} is not allowed in state {before.name}")
        target = TRANSITIONS[before, event]
        if target is BACK:
            assert self._switched_from is not None
            target = self._switched_from
        if event is ConnEvent.SWITCH_EPOCH:
            self._switched_from = before
        self.state = target
        return before

    # ------------------------------------------------------------ questions

    @property
    def started(self) -> bool:
        """A start or resume won once: the connection holds an epoch (and the
        attempt's state). Always when ACTIVE or COMPLETING; when SWITCHING_EPOCH
        or CLOSING, if the connection was ACTIVE before."""
        return self.epoch is not None

    @property
    def closing(self) -> bool:
        """CLOSING or CLOSED: read nothing more, answer nothing more."""
        return self.state in (ConnState.CLOSING, ConnState.CLOSED)

    def is_taken_over(self, epoch: int, *, reported: bool = False) -> bool:
        """Does another connection holding ``epoch`` take this one over? Yes
        when this one holds an older epoch; but an epoch ``reported`` by the
        change stream while SWITCHING_EPOCH may be this connection's own."""
        if reported and self.state is ConnState.SWITCHING_EPOCH:
            return False
        return self.epoch is not None and self.epoch < epoch

    # ------------------------------------------------------------ events

    def info_sent(self) -> None:
        self._fire(ConnEvent.INFO_SENT)

    def switch_epoch(self) -> None:
        """A ``start`` or ``resume`` is about to move the attempt's session epoch."""
        self._fire(ConnEvent.SWITCH_EPOCH)

    def epoch_taken(self, epoch: int) -> None:
        """The compare-and-set won: the connection holds ``epoch`` now."""
        self._fire(ConnEvent.EPOCH_TAKEN)
        self.epoch = epoch

    def switch_refused(self) -> None:
        """The compare-and-set lost: back to what the connection was."""
        self._fire(ConnEvent.SWITCH_REFUSED)

    def begin_completion(self) -> bool:
        """The last task is stored: complete the attempt? False when already at it."""
        return self._fire(ConnEvent.BEGIN_COMPLETION) is not ConnState.COMPLETING

    def completion_refused(self) -> None:
        """The attempt ended otherwise (expired, locked) before it could complete."""
        self._fire(ConnEvent.COMPLETION_REFUSED)

    def close(self) -> bool:
        """Start closing; False when the connection already was."""
        return self._fire(ConnEvent.CLOSE) not in (ConnState.CLOSING, ConnState.CLOSED)

    def finished(self) -> None:
        """The session is over: it closed, and left the server's registry."""
        self._fire(ConnEvent.FINISHED)
