"""The seeded store: recompute --all, per-operation costs and the recruiter
pages at 1,000 and at 10,000 completed attempts (about 30 events each).

Seeding uses file-backed stores WITHOUT --sync-on-commit (much faster to
fill): ``make bench`` seeds one of 1,000 and one of 10,000 attempts side by
side, then measures them in turn (``measure_side_by_side``). Each seeding drops the secondary indexes of the
collections it fills in bulk and builds them again at its end (``BULK_LOADED``),
so everything is measured with the product's indexes.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING

from bench.common import ROOT, Figure, free_port, hiremate_env, percentile
from hiremate import attempt_counts, auth, norms, profiles
from hiremate import db as dbmod
from hiremate.dashboard import dashboard_stats
from hiremate.ops import simulate
from hiremate.reports import ATTEMPT_ROW_PROJECTION, candidate_counts
from hiremate.scope import Scope
from hiremate.timeutil import utcnow
from hiremate.windowed import newest_first

DB_NAME = "bench_store"
CHUNK = 500
PAGE_REPEATS = 5  # the page figures move by a third between rounds on this machine (same code, side by side): 5 runs steady the medians
ONE_TASK_SHARE = 0.7  # 70% one-task attempts (~25 events), 30% two-task (~46): about 31 on average
# Collections whose secondary indexes are dropped while seeding and built again
# (dbmod.ensure_indexes) before anything is measured. SecantusDB 0.7.0b3 reads
# and decodes a collection's whole index catalog three times for every document
# it inserts, so an event cost 0.62 ms of the store's CPU with its three indexes
# and 0.09 ms without, plus 0.19 ms to build them afterwards (1,000 attempts,
# measured 2026-12-05). The seeding reads nothing by these indexes but the
# one kept: its norms.record deletes norm points by attempt_id, which would
# read the whole collection without an index on it.
BULK_LOADED = (dbmod.EVENTS, dbmod.ATTEMPTS, dbmod.PROFILES, dbmod.METRICS, dbmod.NORM_POINTS)
KEPT_WHILE_SEEDING = {"_id_", "attempt_id_1_task_id_1"}
# Stopping or starting the store at 100,000 attempts: it writes a checkpoint when
# it stops, and took more than the usual 30 s to answer again (2026-12-06).
RESTART_TIMEOUT = 600.0


@dataclass
class ScalePoint:
    attempts: int
    events: int
    figures: dict[str, Figure] = field(default_factory=dict)
    # What the store does when asked plainly (no windows, no counters): shown
    # to explain the product's reads, not counted as product operations.
    reference: dict[str, Figure] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    recompute: dict[str, float] = field(default_factory=dict)  # shares and rates of the last full recompute

    def add(self, name: str, unit: str, value: float, *, reference: bool = False) -> None:
        target = self.reference if reference else self.figures
        target.setdefault(name, Figure(name, unit)).runs.append(value)


class SeededStore:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.uri = f"mongodb://127.0.0.1:{self.port}/"
        self.tmp = tmp
        self.store = dbmod.start_embedded_store(tmp / "seeded-store", self.port, sync_on_commit=False, bulk_load=True)
        self.bulk_loading = True  # until the first seed_to ends
        self._connect()
        dbmod.ensure_indexes(self.db)
        self.rng = random.Random(10_000)
        original = auth._BCRYPT_ROUNDS
        auth._BCRYPT_ROUNDS = 4  # not a password benchmark
        try:
            organization = auth.create_organization(self.db, "Bench Org")
            self.user = auth.create_user(
                self.db,
                email="bench@bench.test",
                full_name="Bench Recruiter",
                password="correct-horse-7",
                organization_id=organization.id,
            )
        finally:
            auth._BCRYPT_ROUNDS = original
        self.organization_id: ObjectId = organization.id
        self.tasks = simulate.make_tasks(self.rng, 10, organization_id=self.organization_id, now=utcnow())
        self.db[dbmod.TASKS].insert_many([task.to_doc() for task in self.tasks])
        self.attempt_ids: list[ObjectId] = []
        self.seed_seconds = 0.0
        self.phase_seconds: dict[str, float] = {}  # seeding's parts, summed over every seed_to

    def close(self) -> None:
        self.mongo.close()
        self.store.stop()

    def _connect(self) -> None:
        self.mongo = dbmod.make_client(self.uri, timeout_ms=30000)
        self.db = self.mongo.get_database(DB_NAME)

    def _restart(self, *, bulk_load: bool) -> None:
        """Start the store again on the same files, as a bulk load's store
        (``dbmod.store_command``: no oplog) or as the product runs it, with a
        new client (the server's kind changes, and with it the driver's view
        of the topology)."""
        self.mongo.close()
        self.store.stop(timeout=RESTART_TIMEOUT)  # a store of 3 million events takes a while to write its checkpoint
        self.store = dbmod.start_embedded_store(
            self.tmp / "seeded-store", self.port, sync_on_commit=False, bulk_load=bulk_load, timeout=RESTART_TIMEOUT
        )
        self.bulk_loading = bulk_load
        self._connect()

    def seed_to(self, total: int) -> None:
        """Seed up to ``total`` attempts, in chunks, two threads at a time
        (one simulates while the other waits on the store), into the
        ``BULK_LOADED`` collections without their secondary indexes, which
        are built again at the end (the same indexes as the product's,
        ``dbmod.ensure_indexes``), with the attempt counters and norm
        histograms counted once at the end (``simulate``'s ``counted=False``),
        on a store started for a bulk load (no oplog, ``dbmod.store_command``)
        and started again as the product runs it once done; all that time
        counts as seeding."""
        jobs = []
        planned = len(self.attempt_ids)
        while planned < total:
            count = min(CHUNK, total - planned)
            ones = round(count * ONE_TASK_SHARE)
            jobs += [(1, ones, self.rng.randrange(1 << 30)), (2, count - ones, self.rng.randrange(1 << 30))]
            planned += count

        def seed(job: tuple[int, int, int]) -> list[ObjectId]:
            tasks_per_attempt, n, seed = job
            if not n:
                return []
            seeded = simulate.seed_completed_attempts(
                self.db,
                organization_id=self.organization_id,
                tasks=self.tasks,
                count=n,
                rng=random.Random(seed),
                tasks_per_attempt=tasks_per_attempt,
                batch_size=CHUNK,
                counted=False,
            )
            return [a.id for a in seeded]

        started = time.perf_counter()
        if not self.bulk_loading:
            with self._phase("restarts"):
                self._restart(bulk_load=True)
        for name in BULK_LOADED:
            for index in self.db[name].list_indexes():
                if index["name"] not in KEPT_WHILE_SEEDING:
                    self.db[name].drop_index(index["name"])
        try:
            with self._phase("insert"), ThreadPoolExecutor(max_workers=2) as pool:
                for ids in pool.map(seed, jobs):
                    self.attempt_ids.extend(ids)
        finally:
            with self._phase("indexes"):
                dbmod.ensure_indexes(self.db)
            with self._phase("counters"):
                attempt_counts.recount(self.db, self.organization_id)
            with self._phase("norms"):
                norms.recount(self.db, self.organization_id)
            with self._phase("restarts"):
                self._restart(bulk_load=False)  # measured as the product runs it
        self.seed_seconds += time.perf_counter() - started

    @contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        """Add this block's seconds to ``phase_seconds[name]`` (shown in the report)."""
        began = time.perf_counter()
        try:
            yield
        finally:
            self.phase_seconds[name] = self.phase_seconds.get(name, 0.0) + time.perf_counter() - began

    def event_count(self) -> int:
        return self.db[dbmod.EVENTS].estimated_document_count()


@contextmanager
def small_and_large(tmp: Path, small: int, large: int) -> Iterator[tuple[SeededStore, SeededStore]]:
    """Two stores of their own under ``tmp`` (folders ``small`` and ``large``,
    by role, not size: the two may be equal), seeded side by side in two
    threads (one seeding's Python overlaps the other's store writes), closed
    on exit."""
    stores: list[SeededStore] = []
    try:
        for name in ("small", "large"):
            (tmp / name).mkdir()
            stores.append(SeededStore(tmp / name))
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda job: job[0].seed_to(job[1]), zip(stores, (small, large), strict=True)))
        yield stores[0], stores[1]
    finally:
        for seeded in stores:
            seeded.close()


# ---------------------------------------------------------------- per-operation costs


def _alternating_medians_ms(calls: Sequence[Callable[[], Any]], times: int) -> list[float]:
    """Each call's median time over ``times`` samples, taken in turn (one
    sample of each call, then the next round), so that a pause of the
    shared machine or of one store's checkpoint falls on every call alike."""
    samples: list[list[float]] = [[] for _ in calls]
    for _ in range(times):
        for call, taken in zip(calls, samples, strict=True):
            started = time.perf_counter()
            call()
            taken.append((time.perf_counter() - started) * 1000)
    return [percentile(taken, 50) for taken in samples]


def _operations(seeded: SeededStore, rng: random.Random) -> list[tuple[str, int, bool, Callable[[], Any]]]:
    """(name, samples, reference?, call) for each per-operation figure of one store."""
    db = seeded.db
    pick = lambda: rng.choice(seeded.attempt_ids)  # noqa: E731
    events = db[dbmod.EVENTS]
    template = events.find_one({}, {"_id": 0})

    def insert_attempt_events() -> None:
        attempt_id = ObjectId()
        events.insert_many(
            [{**template, "attempt_id": attempt_id, "sequence_number": s} for s in range(1, 31)], ordered=False
        )

    # What the pages ask: the newest attempts (through recent windows), the
    # organisation's counts (from its counters) and the dashboard's numbers.
    scope = Scope(db, seeded.organization_id, seeded.user.id, is_admin=True)
    attempts = db[dbmod.ATTEMPTS]
    org = {"organization_id": seeded.organization_id}
    # The same questions asked plainly (the reference rows): the store decodes every attempt of the organisation.
    newest = [("created_at", -1), ("_id", -1)]
    return [
        (
            "read one attempt's events (indexed)",
            30,
            False,
            lambda: list(events.find({"attempt_id": pick()}).sort("sequence_number", ASCENDING)),
        ),
        ("compute_and_store one attempt", 15, False, lambda: profiles.compute_and_store(db, pick())),
        ("insert_many 30 events (new attempt)", 15, False, insert_attempt_events),
        (
            "newest 25 attempts (windowed, as the candidates page reads them)",
            5,
            False,
            lambda: newest_first(attempts, org, "created_at", projection=ATTEMPT_ROW_PROJECTION, limit=25),
        ),
        ("the organisation's counts by position and status (counters)", 5, False, lambda: candidate_counts(scope)),
        ("dashboard numbers (dashboard_stats)", 5, False, lambda: dashboard_stats(scope)),
        (
            "newest 25 attempts, one plain query (store's own plan)",
            3,
            True,
            lambda: list(attempts.find(org, ATTEMPT_ROW_PROJECTION).sort(newest).limit(25)),
        ),
        ("count_documents of the organisation's attempts", 3, True, lambda: attempts.count_documents(org)),
    ]


def per_operation(stores: Sequence[SeededStore], points: Sequence[ScalePoint], rngs: Sequence[random.Random]) -> None:
    """One round of the per-operation costs, every store's sample of an
    operation right after the other's (``_alternating_medians_ms``): taken a
    store at a time, a round of one store could fall in the other's quiet
    and its own pause (a 10,000-attempt read measured 4.1 ms in two rounds
    of three against 2.1-2.3 for 1,000 on 2026-12-06, and 2.1-3.5 in every
    earlier run)."""
    operations = [_operations(seeded, rng) for seeded, rng in zip(stores, rngs, strict=True)]
    for index, (name, times, reference, _) in enumerate(operations[0]):
        medians = _alternating_medians_ms([ops[index][3] for ops in operations], times)
        for point, median in zip(points, medians, strict=True):
            point.add(name, "ms", median, reference=reference)


# ---------------------------------------------------------------- recompute --all


def recompute(seeded: SeededStore, sample: int | None = None) -> dict[str, float]:
    """recompute_all with the time of each phase: reading (attempt pages, and
    events queried and parsed into models), computing, writing; with
    ``sample``, stopped after the pages holding that many attempts (its
    per-attempt figures are those of the whole run: every page costs the
    same, which the 1,000 -> 10,000 ratio shows)."""
    spent = {"read attempts": 0.0, "read events": 0.0, "compute": 0.0, "write": 0.0}
    originals = {
        name: getattr(profiles, name)
        for name in ("_events_by_attempt", "_stored_tasks_for_old_attempts", "build_profile", "store_computed")
    }
    phase = {
        "_events_by_attempt": "read events",
        "_stored_tasks_for_old_attempts": "read events",
        "build_profile": "compute",
        "store_computed": "write",
    }

    def timed(name: str) -> Callable[..., Any]:
        inner = originals[name]

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                spent[phase[name]] += time.perf_counter() - started

        return wrapper

    original_pages = profiles._profiled_attempt_pages

    def pages(*args: Any, **kwargs: Any) -> Any:
        iterator = original_pages(*args, **kwargs)
        given = 0
        while sample is None or given < sample:
            started = time.perf_counter()
            try:
                page = next(iterator)
            except StopIteration:
                spent["read attempts"] += time.perf_counter() - started
                return
            spent["read attempts"] += time.perf_counter() - started
            given += len(page)
            yield page

    try:
        for name in originals:
            setattr(profiles, name, timed(name))
        profiles._profiled_attempt_pages = pages
        started = time.perf_counter()
        done = profiles.recompute_all(seeded.db)
        total = time.perf_counter() - started
    finally:
        for name, function in originals.items():
            setattr(profiles, name, function)
        profiles._profiled_attempt_pages = original_pages
    return {"attempts": done, "total": total, **spent}


def raw_read_rate(seeded: SeededStore, sample: int = 3000) -> float:
    """Events/s of the store's own reads of the same events, by the same
    per-attempt queries and projection, as plain documents (no models)."""
    events = seeded.db[dbmod.EVENTS]
    count = 0
    started = time.perf_counter()
    for attempt_id in seeded.attempt_ids[:sample]:
        for _ in events.find({"attempt_id": attempt_id}, profiles._EVENT_FIELDS).sort("sequence_number", ASCENDING):
            count += 1
    return count / (time.perf_counter() - started)


# ---------------------------------------------------------------- pages


def pages(seeded: SeededStore, point: ScalePoint, repeats: int) -> None:
    env = hiremate_env(seeded.uri, DB_NAME, seeded.tmp)
    compare = ",".join(str(i) for i in seeded.attempt_ids[:3])
    command = [sys.executable, "bench/pages_proc.py", "--user-id", str(seeded.user.id), "--compare", compare]
    command += ["--repeats", str(max(repeats, PAGE_REPEATS))]
    answer = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    if answer.returncode != 0:
        raise RuntimeError(f"pages_proc failed: {answer.stderr[-2000:]}")
    result = json.loads(answer.stdout.strip().splitlines()[-1])
    for name, seconds in result["pages"].items():
        point.figures[f"page {name} (AppTest server time)"] = Figure(name, "s", seconds)
    point.peak_rss_mb = result["peak_rss_mb"]


# ---------------------------------------------------------------- the suite


def measure_side_by_side(stores: Sequence[SeededStore], rounds: int, log: Any = print) -> list[ScalePoint]:
    """The pages and the per-operation costs of each store, the stores taken
    in turn: each store's pages right after the other's, then ``rounds``
    rounds of the per-operation costs, each operation's samples taken on one
    store and the other in turn (``per_operation``). A drift of
    the shared machine then falls on every store alike, which the ratios
    between them need: measured one store after the other, minutes apart,
    the same page's 1,000 -> 10,000 ratio moved between 0.9x and 1.6x from
    run to run (2026-12-06)."""
    points = [ScalePoint(len(seeded.attempt_ids), seeded.event_count()) for seeded in stores]
    rngs = [random.Random(point.attempts) for point in points]
    for seeded, point in zip(stores, points, strict=True):
        pages(seeded, point, rounds)
        log(
            f"  {point.attempts} attempts: pages " + ", ".join(f"{k} {v.median:.2f}s" for k, v in point.figures.items())
        )
    for _ in range(rounds):
        per_operation(stores, points, rngs)
    return points


def recompute_into(
    seeded: SeededStore, point: ScalePoint, runs: int, log: Any = print, sample: int | None = None
) -> None:
    """``runs`` timed recomputes (over ``sample`` attempts, or all), into ``point``."""
    for _ in range(runs):
        phases = recompute(seeded, sample)
        point.add("recompute --all per attempt", "ms", phases["total"] / phases["attempts"] * 1000)
        point.recompute = phases
        log(f"  {point.attempts} attempts: recompute {phases}")


def measure(
    seeded: SeededStore, repeats: int, recompute_runs: int, log: Any = print, recompute_sample: int | None = None
) -> ScalePoint:
    (point,) = measure_side_by_side([seeded], repeats, log)
    recompute_into(seeded, point, recompute_runs, log, recompute_sample)
    return point


if __name__ == "__main__":
    import tempfile

    sizes = [int(x) for x in sys.argv[1:]] or [200]
    with tempfile.TemporaryDirectory(prefix="hm-bench-") as tmp:
        store = SeededStore(Path(tmp))
        try:
            for size in sizes:
                store.seed_to(size)
                print(f"seeded {size} in {store.seed_seconds:.1f}s, {store.event_count()} events")
                p = measure(store, 2, 1)
                for f in p.figures.values():
                    print(f"  {f.name}: {f.median:.3f} {f.unit} [{f.spread()}]")
                print("  rss", p.peak_rss_mb)
            print("raw read", raw_read_rate(store))
        finally:
            store.close()
