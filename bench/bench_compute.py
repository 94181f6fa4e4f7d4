"""Metrics and profile: pure computation (compute_metrics + interpret, no
I/O) of one attempt of 10 tasks and about 300 events."""

from __future__ import annotations

import random
import time

from bson import ObjectId

from bench.common import Figure
from hiremate import profiles
from hiremate.ops import simulate
from hiremate.timeutil import utcnow

CALLS = 200


def sample_attempts(count: int = 5) -> list[tuple[object, list[object]]]:
    """Simulated completed attempts of 10 tasks with 250-350 events (events materialised)."""
    rng = random.Random(2026)
    organization_id = ObjectId()
    tasks = simulate.make_tasks(rng, 10, organization_id=organization_id, now=utcnow())
    found = []
    while len(found) < count:
        session = simulate.simulate_session(
            rng, tasks=tasks, organization_id=organization_id, started_at=utcnow() - simulate.SESSION_MARGIN
        )
        events = session.behavior_events
        if 250 <= len(events) <= 350:
            found.append((session.attempt, events))
    return found


def run(repeats: int) -> tuple[Figure, Figure, float]:
    """Milliseconds per attempt, CPU time and wall time (median over repeats
    of the mean of CALLS calls), and the mean number of events."""
    cpu = Figure("metrics+profile per attempt (CPU)", "ms")
    wall = Figure("metrics+profile per attempt (wall)", "ms")
    samples = sample_attempts()
    now = utcnow()
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        for n in range(CALLS):
            attempt, events = samples[n % len(samples)]
            profiles.build_profile(attempt, events, now=now)
        cpu.runs.append((time.process_time() - started_cpu) / CALLS * 1000)
        wall.runs.append((time.perf_counter() - started) / CALLS * 1000)
    return cpu, wall, sum(len(e) for _, e in samples) / len(samples)


if __name__ == "__main__":
    cpu, wall, events = run(5)
    print(f"CPU {cpu.median:.2f} ms ({cpu.spread()}), wall {wall.median:.2f} ms per attempt ({events:.0f} events)")
