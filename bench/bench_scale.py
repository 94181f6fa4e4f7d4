"""`make bench-scale`: one organisation of 10,000 and one of 100,000 completed
attempts (about 3 million events), kept apart from `make bench` because
seeding that much takes most of half an hour on this machine. Each size has
a store of its own, seeded side by side with the other (a store is one
process, and seeding keeps it busy on one core: the two stores use both),
then measured in turn with nothing else running.

At each size: the candidates, compare, dashboard and profile pages (server
time through AppTest, `bench/pages_proc.py`, in a process of their own) and
the rate of `recompute --all`, measured over its first RECOMPUTE_SAMPLE
attempts (the whole run at 100,000 would take longer than everything else;
the full time is that rate's extrapolation, and the command prints its own
rate when run for real). The targets (issue 20): each page under 1 s at
100,000 and within 1.5x of its 10,000 figure.

Results go to `bench/scale.json` and into `bench/README.md` between the
`bench-scale` markers (the targets rows and this section), where `make
bench` keeps them (`bench/run.py` renders both from `scale.json`).

    .venv/bin/python -m bench.bench_scale [--small N] [--large N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import bench_store
from bench.common import ROOT, Figure, fmt, machine
from hiremate import profiles
from hiremate.timeutil import utcnow

RESULTS = ROOT / "bench" / "scale.json"
README = ROOT / "bench" / "README.md"
SMALL, LARGE = 10_000, 100_000
RECOMPUTE_SAMPLE = 1_000  # attempts, in pages of 100 as recompute --all does them (3,000 cost 84 s at 100,000)
PAGE_LIMIT_SECONDS = 1.0
DURATION_LIMIT_SECONDS = 1_800  # issue 20: under 30 minutes
FLAT = 1.5
TARGETS_BEGIN, TARGETS_END = "<!-- bench-scale targets -->", "<!-- /bench-scale targets -->"
SECTION_BEGIN, SECTION_END = "<!-- bench-scale section -->", "<!-- /bench-scale section -->"


def recompute_rate(seeded: bench_store.SeededStore, sample: int = RECOMPUTE_SAMPLE) -> dict[str, float]:
    """recompute --all's own loop (pages of 100 by ``_id``, computed and
    stored) over its first ``sample`` attempts. Its first page comes after
    one read of every matching ``_id`` (``listing_seconds``, once per run
    whatever its length); the rate is of the pages after it, so a small
    sample does not pass the listing off as part of every page."""
    now = utcnow()
    pages = profiles._profiled_attempt_pages(seeded.db, 100)
    started = time.perf_counter()
    first = next(pages, [])
    listed = time.perf_counter()
    done = 0
    for page in itertools.chain([first], itertools.islice(pages, max(1, sample // 100) - 1)):
        if page:
            profiles._compute_and_store_batch(seeded.db, page, now)
            done += len(page)
    seconds = time.perf_counter() - listed
    return {
        "attempts": done,
        "seconds": seconds,
        "listing_seconds": listed - started,
        "attempts_per_s": done / seconds if seconds else 0.0,
    }


def measure(seeded: bench_store.SeededStore, log: Any) -> dict[str, Any]:
    point = bench_store.ScalePoint(len(seeded.attempt_ids), seeded.event_count())
    bench_store.pages(seeded, point, bench_store.PAGE_REPEATS)
    pages = {
        name.removeprefix("page ").removesuffix(" (AppTest server time)"): f.runs for name, f in point.figures.items()
    }
    log(
        f"  {point.attempts:,} attempts: "
        + ", ".join(f"{k} {Figure(k, 's', v).median:.3f} s" for k, v in pages.items())
    )
    rate = recompute_rate(seeded)
    log(f"  recompute: {rate['attempts_per_s']:.0f} attempts/s over {rate['attempts']} attempts")
    return {"attempts": point.attempts, "events": point.events, "pages": pages, "recompute": rate}


def run(small: int, large: int, log: Any = print) -> dict[str, Any]:
    began = time.monotonic()
    started_at = dt.datetime.now(dt.UTC)
    facts = machine()
    data: dict[str, Any] = {
        "date": f"{started_at:%Y-%m-%d %H:%M} UTC",
        "machine": f"{facts['nproc']} cores ({facts['cpu']}), {facts['memory']} memory, Python {facts['python']}",
        "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "points": [],
        "seed_seconds": [],
    }
    log(f"seeding {small:,} and {large:,} attempts, each into a store of its own, side by side")
    with (
        tempfile.TemporaryDirectory(prefix="hm-bench-scale-") as tmp,
        bench_store.small_and_large(Path(tmp), small, large) as stores,
    ):
        for seeded in stores:
            data["seed_seconds"].append(round(seeded.seed_seconds, 1))
            log(
                f"  {len(seeded.attempt_ids):,} attempts in {seeded.seed_seconds:,.0f} s: {_phases(seeded.phase_seconds)}"
            )
        data["seed_phases"] = {name: round(value, 1) for name, value in stores[-1].phase_seconds.items()}
        for seeded in stores:  # one after the other, with nothing else running
            data["points"].append(measure(seeded, log))
    data["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    data["elapsed_seconds"] = round(time.monotonic() - began)
    return data


# ---------------------------------------------------------------- the report (bench/run.py renders it too)


def _median(runs: list[float]) -> float:
    return Figure("", "s", runs).median


def _phases(phases: dict[str, float]) -> str:
    """``{"insert": 812.3, ...}`` as "inserting 812 s, ..." (a seeding's parts)."""
    words = {
        "insert": "inserting",
        "indexes": "building the indexes",
        "counters": "counting the attempts",
        "norms": "counting the norms",
        "restarts": "restarting the store",
    }
    return ", ".join(f"{words.get(name, name)} {seconds:,.0f} s" for name, seconds in phases.items())


def target_rows(data: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(target, measured, limit, met) rows of the README's targets table."""
    small, large = data["points"][0], data["points"][-1]
    rows = []
    for page, runs in large["pages"].items():
        now, before = _median(runs), _median(small["pages"].get(page, runs))
        ratio = now / before if before else float("inf")
        rows.append(
            (
                f"{page} with {large['attempts']:,} attempts (AppTest server time), vs {small['attempts']:,}",
                f"{fmt(now)} s, {ratio:.2f}x of {fmt(before)} s",
                f"<= {PAGE_LIMIT_SECONDS:.0f} s and <= {FLAT}x",
                "**met**" if now <= PAGE_LIMIT_SECONDS and ratio <= FLAT else "**not met**",
            )
        )
    rows.append(
        (
            "`make bench-scale` from start to the report written",
            f"{data['elapsed_seconds']:,} s",
            f"< {DURATION_LIMIT_SECONDS:,} s",
            "**met**" if data["elapsed_seconds"] < DURATION_LIMIT_SECONDS else "**not met**",
        )
    )
    return rows


def section(data: dict[str, Any]) -> list[str]:
    small, large = data["points"][0], data["points"][-1]
    out = [
        "## Scale: 100,000 attempts (`make bench-scale`)\n",
        f"Written by `make bench-scale` (`.venv/bin/python -m bench.bench_scale`) on {data['date']} "
        f"({data['elapsed_seconds']:,} s in all; {data['machine']}; load {data['load_start']} at start, "
        f"{data['load_end']} at end); `make bench` keeps it as it is.\n",
        f"One organisation on each of two file-backed stores without --sync-on-commit, seeded with "
        f"`simulate.seed_completed_attempts` (events, metrics, profiles; secondary indexes of the bulk "
        "collections built after the seeding, and the attempt counters and norm histograms counted once after "
        "it, both within its time). Two stores, seeded side by side (each store is one process, busy on one "
        f"core): one to {small['attempts']:,} attempts ({small['events']:,} events, "
        f"{data['seed_seconds'][0]:,.0f} s), one to {large['attempts']:,} ({large['events']:,} events, "
        f"{data['seed_seconds'][-1]:,.0f} s"
        + (f": {_phases(data['seed_phases'])}" if data.get("seed_phases") else "")
        + "); then each measured in turn, with nothing else running. Each store is seeded as a store started for a "
        "bulk load (no oplog: `hiremate/db.py` `store_command`) and started again as the product runs it before "
        "anything is measured. Pages: server time of one AppTest run each, median [min–max (runs)].\n",
        f"| page | {small['attempts']:,} attempts (s) | {large['attempts']:,} attempts (s) | ratio |",
        "|---|---|---|---|",
    ]
    for page, runs in large["pages"].items():
        before = Figure(page, "s", small["pages"].get(page, []))
        after = Figure(page, "s", runs)
        ratio = after.median / before.median if before.runs and before.median else float("nan")
        before_cell = f"{fmt(before.median)} [{before.spread()}]" if before.runs else "-"
        out.append(f"| {page} | {before_cell} | {fmt(after.median)} [{after.spread()}] | {ratio:.2f}x |")
    out.append("")
    for point in (small, large):
        rate = point["recompute"]
        listing = rate.get("listing_seconds", 0.0)
        full = listing + point["attempts"] / rate["attempts_per_s"] if rate["attempts_per_s"] else float("nan")
        out.append(
            f"* recompute --all at {point['attempts']:,} attempts: **{rate['attempts_per_s']:,.0f} attempts/s** "
            f"(its first {rate['attempts']:,} attempts in {rate['seconds']:.1f} s, after {listing:.1f} s listing "
            f"the attempts once), so about {full / 60:.1f} min for all of them; the command prints its rate as it "
            "runs and when it ends."
        )
    out.append("")
    return out


def targets_block(data: dict[str, Any] | None) -> list[str]:
    """The targets this benchmark checks, as their own table under the
    README's targets table, between markers (``make bench`` renders it from
    ``scale.json``; ``make bench-scale`` replaces it)."""
    lines = [TARGETS_BEGIN]
    if data is None:
        lines.append("The 100,000-attempt targets are measured by `make bench-scale` (not run on this machine yet).")
    else:
        lines += [
            f"Measured by `make bench-scale` on {data['date']} (see its section below):\n",
            "| target | measured | limit | |",
            "|---|---|---|---|",
            *("| " + " | ".join(row) + " |" for row in target_rows(data)),
        ]
    return [*lines, TARGETS_END, ""]


def section_block(data: dict[str, Any] | None) -> list[str]:
    return [SECTION_BEGIN, *(section(data) if data is not None else []), SECTION_END, ""]


def _replace_between(text: str, begin: str, end: str, lines: list[str]) -> str:
    """``text`` with the block from ``begin`` to ``end`` (markers included) replaced by ``lines``."""
    if begin not in text or end not in text:
        return text.rstrip("\n") + "\n\n" + "\n".join(lines)
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + "\n".join(lines).rstrip("\n") + tail


def readme_with(text: str, data: dict[str, Any]) -> str:
    """``text`` (bench/README.md) with this run's targets table and section."""
    text = _replace_between(text, TARGETS_BEGIN, TARGETS_END, targets_block(data))
    return _replace_between(text, SECTION_BEGIN, SECTION_END, section_block(data))


def saved() -> dict[str, Any] | None:
    """The last `make bench-scale` results, if any."""
    try:
        return json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=SMALL)
    parser.add_argument("--large", type=int, default=LARGE)
    args = parser.parse_args()
    data = run(args.small, args.large, lambda message: print(message, flush=True))
    RESULTS.write_text(json.dumps(data, indent=1) + "\n")
    README.write_text(readme_with(README.read_text(), data))
    print(f"wrote {RESULTS.relative_to(ROOT)} and {README.relative_to(ROOT)} after {data['elapsed_seconds']} s")
    for row in target_rows(data):
        print(" | ".join(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
