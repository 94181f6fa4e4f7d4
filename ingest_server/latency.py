"""The server's own part of each ack, measured inside the server.

An ack's latency at the client is the server's own work plus the store's:
this records the server's two parts of each ``event`` or ``batch`` answer, in
monotonic nanoseconds,

* **in**: the frame received (the event loop read the bytes that completed
  it, ``IngestConnection.received_ns``) -> the message handed to the group
  writer (validated, its documents built, ``GroupCommitter.submit``);
* **out**: the store acknowledged the group (the writer's thread got the
  insert's answer) -> the ack written to the socket's transport;

leaving out what lies between, the wait for the group ahead and the store's
own write. Always on: two clock reads and two array stores per answer, in a
preallocated ring of the last ``size`` answers (no allocation per event). The
benchmark reads it through ``bench/ingest_proc.py``'s statistics signal.
"""

from __future__ import annotations

import sys
from array import array
from typing import Any

RING_SIZE = 16384
GIL_SWITCH_SECONDS = 0.0005


class LatencyRing:
    """The last ``size`` answers' (in, out) nanoseconds; ``count`` ever recorded."""

    def __init__(self, size: int = RING_SIZE) -> None:
        self.size = size
        self.count = 0
        self._in = array("q", bytes(8 * size))
        self._out = array("q", bytes(8 * size))

    def record(self, in_ns: int, out_ns: int) -> None:
        slot = self.count % self.size
        self._in[slot] = in_ns
        self._out[slot] = out_ns
        self.count += 1

    def samples(self) -> list[tuple[int, int]]:
        """What the ring holds, oldest first."""
        held = min(self.count, self.size)
        first = self.count - held
        return [(self._in[n % self.size], self._out[n % self.size]) for n in range(first, self.count)]

    def snapshot(self) -> dict[str, Any]:
        """``{"count", "samples": [[in_ns, out_ns], ...]}`` (JSON-ready)."""
        return {"count": self.count, "samples": [list(pair) for pair in self.samples()]}


def shorten_gil_switch() -> None:
    """Let the event loop take the GIL back after 0.5 ms instead of Python's 5.

    The group writer's and the change stream's threads hold the GIL while
    pymongo encodes and decodes; the event loop, woken by the store's answer,
    then waited up to a whole switch interval per handoff before it could
    write the acks. Side by side at half throughput (2 runs each): the
    server's own part of the ack p99 11 ms instead of 29 ms, the end-to-end
    p99 283 instead of 472 ms, CPU per event unchanged (270 vs 276 us). Call
    it from the process's entry point (``python -m ingest_server``), never
    from a library or a test process.
    """
    sys.setswitchinterval(GIL_SWITCH_SECONDS)
