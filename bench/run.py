"""`make bench`: every benchmark, bounded, then bench/README.md.

    .venv/bin/python -m bench.run [--quick]

Order: ingest (ceilings side by side, latency, fan-out), whole sessions
(100 candidates at once) and batches, the Streamlit live page in Chromium, the
candidate page in Chromium on emulated slow 3G (before and after issue 20), pure metrics compute, then one seeded store (1,000
attempts measured, 9,000 more seeded, 10,000 measured: pages, per-operation
costs, recompute --all). Each phase logs as it goes.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench import (
    bench_bulk,
    bench_candidate_page,
    bench_compute,
    bench_ingest,
    bench_live_page,
    bench_scale,
    bench_sessions,
    bench_store,
)
from bench.common import ROOT, Figure, fmt, machine

README = ROOT / "bench" / "README.md"
BUDGET_SECONDS = 570.0  # the whole run stays under 10 minutes
FLAT = 1.5  # a per-operation cost "stays flat" when 10,000 attempts cost at most 1.5x of 1,000


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def cell(figure: Figure, scale: float = 1.0) -> str:
    scaled = [v * scale for v in figure.runs]
    f = Figure(figure.name, figure.unit, scaled)
    return f"{fmt(f.median)} [{f.spread()}]"


def recomputed_events(point: bench_store.ScalePoint) -> float:
    """Events of the attempts the recompute went through (all of them, or its sample)."""
    return point.events * point.recompute["attempts"] / point.attempts


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes, for developing the bench")
    args = parser.parse_args()
    quick = args.quick
    began = time.monotonic()
    started_at = dt.datetime.now(dt.UTC)
    facts = machine()
    small, large = (200, 600) if quick else (1000, 10000)
    repeats = 2 if quick else 3
    sections: dict[str, Any] = {}
    errors: list[str] = []
    tmp = Path(tempfile.mkdtemp(prefix="hm-bench-"))
    try:
        log("ingest: raw websockets ceiling, ingest server, store insert_many ceiling; 1/10/100 connections")
        try:
            sections["ingest"] = asyncio.run(bench_ingest.run(tmp / "ingest", repeats, log))
        except Exception:
            errors.append("ingest: " + traceback.format_exc(limit=3))
        log(f"whole sessions: {bench_sessions.CANDIDATES} candidates at once; batches of {bench_sessions.BATCH_SIZE}")
        try:
            sections["sessions"] = asyncio.run(
                bench_sessions.run(tmp / "sessions", 1, log, candidates=50 if quick else bench_sessions.CANDIDATES)
            )
        except Exception:
            errors.append("sessions: " + traceback.format_exc(limit=3))
        log("Streamlit live page in Chromium")
        try:
            sections["live_page"] = bench_live_page.run(tmp / "live", log)
        except Exception:
            errors.append("live page: " + traceback.format_exc(limit=3))
        log("candidate page in Chromium on emulated slow 3G and on loopback, before and after issue 20")
        try:
            sections["candidate_page"] = bench_candidate_page.run(tmp / "page", log)
        except Exception:
            errors.append("candidate page: " + traceback.format_exc(limit=3))
        log("metrics+profile pure compute")
        sections["compute"] = bench_compute.run(5)
        log(f"bulk issue of {bench_bulk.ROWS} rows")
        try:
            sections["bulk"] = bench_bulk.run(tmp / "bulk", repeats, log)
        except Exception:
            errors.append("bulk: " + traceback.format_exc(limit=3))
        log(
            f"seeding {small} and {large} attempts, each into a store of its own, side by side (without --sync-on-commit)"
        )
        with bench_store.small_and_large(tmp, small, large) as stores:
            sections["seed_small"], sections["seed_large"] = (seeded.seed_seconds for seeded in stores)
            log(f"  seeded in {sections['seed_small']:.0f} and {sections['seed_large']:.0f} s; measured in turn")
            sections["small"], sections["large"] = bench_store.measure_side_by_side(stores, repeats, log)
            bench_store.recompute_into(stores[0], sections["small"], 1, log)
            # recompute over a sample: per page the same as the whole (about 15 s instead of 150)
            bench_store.recompute_into(stores[1], sections["large"], 1, log, sample=1000)
            log("store raw read rate of the same events")
            sections["raw_read"] = bench_store.raw_read_rate(stores[1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.monotonic() - began
    facts["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    text = render(facts, started_at, elapsed, sections, errors, quick)
    if not quick:
        README.write_text(text)
        log(f"wrote {README.relative_to(ROOT)} after {elapsed:.0f}s")
    else:
        print(text)
    return 1 if errors else 0


# ---------------------------------------------------------------- the report


def render(
    facts: dict[str, str], started_at: dt.datetime, elapsed: float, s: dict[str, Any], errors: list[str], quick: bool
) -> str:
    out: list[str] = []
    w = out.append
    w("# HireMate benchmarks\n")
    w("Written by `make bench` (`.venv/bin/python -m bench.run`) from the run it describes; do not edit by hand.\n")
    w(f"* Date: {started_at:%Y-%m-%d %H:%M} UTC; the whole run took {elapsed:.0f} s.")
    w(f"* Machine: {facts['nproc']} cores ({facts['cpu']}), {facts['memory']} memory, Python {facts['python']}.")
    w(
        f"* Load average (1/5/15 min) at start {facts['load']}, at end {facts['load_end']}: the machine is shared, "
        "so absolute numbers drift; the comparisons are ratios measured side by side in the same run."
    )
    w("* Each figure: median [min–max (runs)]. Times in ms unless marked.\n")
    if errors:
        w("## Errors\n")
        for error in errors:
            w("```\n" + error.strip() + "\n```")
        w("")

    rows: list[tuple[str, str, str, str]] = []  # target, measured, limit, verdict
    ing = s.get("ingest")
    if ing is not None:
        lower = ing.ratio_lower[100]
        rows.append(
            (
                "Ingest at 100 connections vs the lower ceiling",
                f"{cell(lower)} x",
                ">= 0.7 x",
                verdict(lower.median >= 0.7),
            )
        )
        rows.append(
            (
                "Ack latency p99 at half throughput, 100 connections",
                f"{cell(ing.latency_p99)} ms",
                "<= 25 ms",
                verdict(ing.latency_p99.median <= 25),
            )
        )
        if 100 in ing.cpu_ratio:
            ratio = ing.cpu_ratio[100]
            rows.append(
                (
                    "Ingest CPU per event vs raw websockets CPU per message at 100 connections (<= 2x)",
                    f"{cell(ratio)} x ({fmt(ing.cpu_ingest[100].median)} vs {fmt(ing.cpu_raw[100].median)} us)"
                    + (
                        f"; like for like, the raw server also without compression: {cell(ing.cpu_ratio_plain)} x "
                        f"(vs {fmt(ing.cpu_raw_plain.median)} us)"
                        if ing.cpu_ratio_plain.runs
                        else ""
                    ),
                    "<= 2 x",
                    verdict(ratio.median <= 2),
                )
            )
        if ing.own_p99.runs:
            rows.append(
                (
                    "Server's own part of the ack latency p99 at half throughput (<= 2 ms)",
                    f"{cell(ing.own_p99)} ms (end to end {fmt(ing.latency_p99.median)}, "
                    f"store alone {fmt(ing.loaded_p99.median)})",
                    "<= 2 ms",
                    verdict(ing.own_p99.median <= 2),
                )
            )
        if ing.own_core_p99.runs:
            rows.append(
                (
                    "The same with the ingest server on a core of its own (the store and the load on the other, "
                    "as where the store is its own machine)",
                    f"{cell(ing.own_core_p99)} ms (end to end {fmt(ing.own_core_ack_p99.median)})",
                    "<= 2 ms",
                    verdict(ing.own_core_p99.median <= 2),
                )
            )
        rows.append(
            (
                "Fan-out ack -> /ws/live subscriber, p99",
                f"{cell(ing.fanout_p99)} ms",
                "<= 100 ms",
                verdict(ing.fanout_p99.median <= 100),
            )
        )
    live = s.get("live_page")
    if live is not None:
        worst = max(live[2])
        rows.append(
            (
                "Fan-out ack -> Streamlit live page (Chromium), worst of the events",
                f"{fmt(worst)} ms (p50 {fmt(live[0].median)})",
                "<= 1,500 ms",
                verdict(worst <= 1500),
            )
        )
    page = s.get("candidate_page")
    if page is not None:
        rows.extend(bench_candidate_page.target_rows(page, verdict))
    comp = s.get("compute")
    if comp is not None:
        cpu, wall, _events = comp
        rows.append(
            (
                "Metrics + profile, one attempt of 10 tasks / ~300 events (CPU time)",
                f"{cell(cpu)} ms (wall {fmt(wall.median)})",
                "<= 2 ms",
                verdict(cpu.median <= 2),
            )
        )
    bulk = s.get("bulk")
    if bulk is not None:
        rows.append(
            (
                f"Bulk issue of {bulk.rows} rows with a kit (server time)",
                f"{cell(bulk.total)} s",
                f"<= {bench_bulk.LIMIT_SECONDS:.0f} s",
                verdict(bulk.total.median <= bench_bulk.LIMIT_SECONDS and bulk.issued_ok),
            )
        )
    large = s.get("large")
    raw_read = s.get("raw_read")
    if large is not None and raw_read:
        rc = large.recompute
        compute_rate = recomputed_events(large) / rc["compute"] if rc["compute"] else float("inf")
        ratio = compute_rate / raw_read
        rows.append(
            (
                "recompute --all: compute rate vs the store's raw read rate",
                f"{fmt(ratio)} x ({fmt(compute_rate)} vs {fmt(raw_read)} events/s)",
                ">= 0.5 x",
                verdict(ratio >= 0.5),
            )
        )
        for name, figure in large.figures.items():
            if name.startswith("page "):
                rows.append(
                    (
                        f"{name[5:]} with {large.attempts:,} attempts",
                        f"{cell(figure)} s",
                        "<= 1 s",
                        verdict(figure.median <= 1.0),
                    )
                )
    small = s.get("small")
    if small is not None and large is not None:
        flat = [
            n for n in large.figures if n in small.figures and large.figures[n].median <= FLAT * small.figures[n].median
        ]
        total = [n for n in large.figures if n in small.figures]
        rows.append(
            (
                "Scaling 1,000 -> 10,000 attempts: per-operation costs flat (<= 1.5x)",
                f"{len(flat)} of {len(total)} flat",
                "all",
                verdict(len(flat) == len(total)),
            )
        )
    if not quick:
        rows.append(
            ("`make bench` from start to the report written", f"{elapsed:,.0f} s", "< 600 s", verdict(elapsed < 600))
        )

    w("## Targets\n")
    w("| target | measured | limit | |")
    w("|---|---|---|---|")
    for row in rows:
        w("| " + " | ".join(row) + " |")
    w("")
    out.extend(bench_scale.targets_block(bench_scale.saved()))  # kept from the last `make bench-scale`

    if ing is not None:
        w("## Ingest throughput\n")
        w(
            "Events acknowledged per second. Every connection is an attempt that was issued and started, then sends "
            f"single `event` messages (the smallest valid events, alternating `focus_lost`/`focus_gained`) with at most "
            f"{bench_ingest.WINDOW} unanswered; events per connection: "
            + ", ".join(f"{n} connection(s): {e}" for n, e in bench_ingest.EVENTS_PER_CONNECTION.items())
            + ". **Rate limits raised for the benchmark** (events per attempt and connections per address: 1,000,000). "
            "The ingest server is `bench/ingest_proc.py` (the real `IngestServer`, as `python -m ingest_server` runs it, "
            "plus a signal that reports the group committer's counters) on a file-backed store **with --sync-on-commit**. "
            "Ceiling (a): `bench/raw_server.py`, a bare websockets server that parses and acks, driven by the same client. "
            "Ceiling (b): `insert_many` of the same documents into the same collection and store, from one process, in "
            "batches of the mean group size the group committer formed in that run. All three are run back to back in "
            "each repeat; the ratios are per repeat.\n"
        )
        w(
            "| connections | raw ws (a) | ingest | store insert_many (b) | batch (b) | ingest / (a) | ingest / (b) | ingest / lower |"
        )
        w("|---|---|---|---|---|---|---|---|")
        for n in bench_ingest.CONNECTIONS:
            w(
                f"| {n} | {cell(ing.throughput[('raw', n)])} | {cell(ing.throughput[('ingest', n)])} | "
                f"{cell(ing.throughput[('store', n)])} | {cell(ing.group_size[n])} | {cell(ing.ratio_raw[n])} | "
                f"{cell(ing.ratio_store[n])} | {cell(ing.ratio_lower[n])} |"
            )
        w("")
        w(f"* For reference, the store's `insert_many` in batches of 500: {cell(ing.store_500)} events/s.")
        for n in bench_ingest.CONNECTIONS:
            if n in ing.cpu_ingest:
                w(
                    f"* CPU time per acknowledged event at {n} connection(s): ingest server {cell(ing.cpu_ingest[n])} us, "
                    f"store {cell(ing.cpu_store[n])} us; the raw websockets server (a), per message of the same run: "
                    f"{cell(ing.cpu_raw[n])} us, so ingest / raw {cell(ing.cpu_ratio[n])} x "
                    "(from /proc, so it holds on a busy machine), counted from the moment every connection "
                    "is open and started to the last ack."
                )
                if n == 100 and ing.cpu_raw_plain.runs:
                    w(
                        "  The raw server (a) keeps websockets' defaults, as when the target was set: it accepts "
                        "the client's offer of permessage-deflate, which the ingest server declines since "
                        "2026-12-06 (protocol v1.4, transport). The same raw server declining it too, in the same "
                        f"repeats: {cell(ing.cpu_raw_plain)} us per message, so ingest / raw like for like "
                        f"{cell(ing.cpu_ratio_plain)} x."
                    )
                if n in ing.setup_ingest:
                    w(
                        f"  Opening and starting each connection (handshake, token, `start` with its consent and "
                        f"state read) is counted apart: ingest server {cell(ing.setup_ingest[n])} ms of CPU per "
                        f"connection, raw server {cell(ing.setup_raw[n])} ms; spread over this run's events it "
                        f"would make the ingest figure {cell(ing.cpu_ingest_with_setup[n])} us (how it was "
                        "counted until 2026-12-05)."
                    )
        served = ing.throughput[("ingest", 100)].median
        w(
            f"* In people: at a realistic 2 events/s per candidate, one ingest process serves about "
            f"**{fmt(served / 2)} concurrent candidates** on this machine (median 100-connection throughput / 2)."
        )
        w(f"* Every acknowledged event was stored exactly once (counted after each run): {ing.stored_ok}.\n")
        w("## Ack latency and live fan-out\n")
        w(
            f"{fmt(ing.offered.median)} events/s (half the median 100-connection throughput) offered evenly over 100 "
            f"connections for {bench_ingest.LATENCY_SECONDS:.0f} s, each connection sending on its own schedule; "
            f"latency is send -> ack at the client. {bench_ingest.LIVE_SUBSCRIBERS} of the attempts are watched on "
            "`/ws/live` at the same time; fan-out is the candidate's ack -> the subscriber's `event_logged` (same "
            "process, same clock; negative when the subscriber hears first).\n"
        )
        w("| figure | ms |")
        w("|---|---|")
        figures = (ing.latency_p50, ing.latency_p99, ing.raw_p50, ing.raw_p99, ing.loaded_p50, ing.loaded_p99)
        own = (ing.own_p50, ing.own_p99, ing.own_in_p99, ing.own_out_p99) if ing.own_p99.runs else ()
        if ing.own_core_p99.runs:
            own += (ing.own_core_p50, ing.own_core_p99, ing.own_core_out_p99, ing.own_core_ack_p99)
        for figure in (*figures, *own, ing.fanout_p50, ing.fanout_p99):
            w(f"| {figure.name} | {cell(figure)} |")
        w("")
        if own:
            w(
                "The server's own part is measured inside the ingest server for every ack of the same run "
                "(`ingest_server/latency.py`, read through `bench/ingest_proc.py`'s statistics signal): frame received "
                "-> handed to the group writer, plus the store's answer -> the ack written to the socket; what lies "
                "between (the wait for the group ahead and the store's write) is the store's part, which the "
                'store-alone figures above bound. The figures "on a core of its own" come from one more window of '
                "the same load right after, with the ingest server's threads on one core and the store and this "
                "benchmark's client on the other (`bench_ingest.own_core`): on this machine of 2 cores the store "
                "takes about a core at this load, and a server sharing both cores with it waits for a CPU after "
                "each of the store's answers.\n"
            )
            w(_own_part_by_group(ing))
        if ing.loop_wait.runs:
            w(
                "How long the event loop waits for a CPU (its thread's `/proc/<pid>/task/<pid>/schedstat` over the "
                f"same windows): it used {cell(ing.loop_cpu)} us of CPU per event, and each time it became runnable "
                f"(a frame, a written group, a timer) it waited **{cell(ing.loop_wait)} us** on average before it "
                "ran"
                + (f"; on a core of its own {cell(ing.own_core_loop_wait)} us" if ing.own_core_loop_wait.runs else "")
                + ". The server's own part includes that wait, once or more per ack.\n"
            )
        w(
            f"The latency floor, measured right after each run: the group committer wrote groups of "
            f"{cell(ing.latency_group)} events on average; the store alone takes p50 {cell(ing.store_p50)} ms and "
            f"p99 {cell(ing.store_p99)} ms for one `insert_many` of that many documents (--sync-on-commit), "
            "before any network, validation or ack."
        )
        w("")
        w(
            "The store alone at the same load (`store_under_load`): the group committer's own work, one attempt "
            "check and one `insert_many` of a mean-sized group, offered from one thread at the same event rate, "
            f"timed from each group's due time: p50 {cell(ing.loaded_p50)} ms, **p99 {cell(ing.loaded_p99)} ms**. "
            "That is what ack p99 cannot go below with this store on this machine; the ack adds the wait for a group "
            "to gather, the network both ways, validation and the ack itself."
        )
        w("")
    ses = s.get("sessions")
    if ses is not None:
        out.extend(render_sessions(ses))
    if bulk is not None:
        out.extend(bench_bulk.render(bulk))
    if live is not None:
        w("## Streamlit live page\n")
        w(
            "A real `streamlit run asgi.py` and headless Chromium (Playwright, `/usr/bin/chromium`, never "
            "`playwright install`), logged in through the app's cookie hand-over route and showing the Live page of "
            f"an attempt; a candidate sends {bench_live_page.EVENTS} events {bench_live_page.GAP_SECONDS} s apart "
            "through the real ingest server, and each is timed from its ack to the page showing the new event "
            "count (the page's live panel refreshes once a second, so up to about 1 s is by design).\n"
        )
        w(f"* ack -> page, per event (ms): {', '.join(fmt(x) for x in live[2])}")
        w(f"* p50 {fmt(live[0].median)} ms, worst {fmt(max(live[2]))} ms.\n")
    if page is not None:
        out.extend(bench_candidate_page.render(page))
    if comp is not None:
        cpu, wall, events = comp
        w("## Metrics and profile, pure compute\n")
        w(
            f"`profiles.build_profile` (compute_metrics + interpret, no I/O) on simulated completed attempts of 10 "
            f"tasks with {events:.0f} events on average, {bench_compute.CALLS} calls a run; CPU time of the process "
            "(robust to the shared machine) and wall time.\n"
        )
        w(f"* CPU: {cell(cpu)} ms per attempt; wall: {cell(wall)} ms.\n")
    if small is not None:
        w("## Seeded store: recompute, pages, scaling\n")
        w(
            "Two file-backed stores **without --sync-on-commit** (seeding only; the ingest figures above use "
            f"--sync-on-commit), seeded side by side with `simulate.seed_completed_attempts` (events, metrics, "
            "profiles; the secondary indexes of the bulk collections built after each seeding, "
            "`bench_store.BULK_LOADED`, and the attempt counters and norm histograms counted once after it, both "
            f"within its time): {small.attempts:,} attempts into one ({fmt(s.get('seed_small', 0))} s)"
            + (f" and {large.attempts:,} into the other ({fmt(s.get('seed_large', 0))} s)" if large else "")
            + ". Then measured in turn (`bench_store.measure_side_by_side`): each store's pages right after the "
            "other's, then the per-operation costs with each operation's samples taken on one store and the other "
            "in turn, so that a drift "
            "of the shared machine falls on both alike (measured one after the other, minutes apart, a page's ratio "
            "moved between 0.9x and 1.6x from run to run); the recomputes last. 70% of attempts take one task and "
            "30% two, about 31 events each.\n"
        )
        points = [p for p in (small, large) if p is not None]
        w(
            "| per-operation figure | "
            + " | ".join(f"{p.attempts:,} attempts ({p.events:,} events)" for p in points)
            + " | ratio |"
        )
        w("|---|" + "---|" * len(points) + "---|")
        for name in small.figures:
            values = [p.figures[name] for p in points if name in p.figures]
            ratio = fmt(values[-1].median / values[0].median) if len(values) == 2 and values[0].median else "n/a"
            unit = values[0].unit
            w(f"| {name} ({unit}) | " + " | ".join(cell(v) for v in values) + f" | {ratio} |")
        w("| peak RSS of the AppTest process (MB) | " + " | ".join(fmt(p.peak_rss_mb) for p in points) + " | |")
        w("")
        if small.reference:
            w(
                "For reference, not product operations: the same questions asked of the store plainly. It decodes "
                "every attempt of the organisation for a sort or a count whatever the index, which is why the pages "
                "read through recent windows (`hiremate/windowed.py`) and per-organisation counters "
                "(`hiremate/attempt_counts.py`) instead.\n"
            )
            w("| store's own plan | " + " | ".join(f"{p.attempts:,} attempts" for p in points) + " | ratio |")
            w("|---|" + "---|" * len(points) + "---|")
            for name in small.reference:
                values = [p.reference[name] for p in points if name in p.reference]
                ratio = fmt(values[-1].median / values[0].median) if len(values) == 2 and values[0].median else "n/a"
                w(f"| {name} ({values[0].unit}) | " + " | ".join(cell(v) for v in values) + f" | {ratio} |")
            w("")
        if large is not None and large.recompute:
            rc = large.recompute
            total = rc["total"]
            reading = rc["read attempts"] + rc["read events"]
            w(f"### recompute --all over {large.attempts:,} attempts\n")
            w(
                "`profiles.recompute_all` (what `python -m hiremate recompute --all` runs), with each phase timed "
                f"(last run), over its first {rc['attempts']:,.0f} attempts (a recompute goes page by page, each "
                "page costing the same, so the rest only repeats them):\n"
            )
            w(f"* total {fmt(total)} s ({fmt(total / rc['attempts'] * 1000)} ms per attempt)")
            w(
                f"* reading {fmt(reading)} s = **{reading / total:.0%}** (attempt pages {fmt(rc['read attempts'])} s; events queried and parsed into models {fmt(rc['read events'])} s)"
            )
            w(
                f"* computing {fmt(rc['compute'])} s = {rc['compute'] / total:.0%}; writing (upserts of metrics and profiles) {fmt(rc['write'])} s = {rc['write'] / total:.0%}"
            )
            if raw_read:
                w(
                    f"* compute rate {fmt(recomputed_events(large) / rc['compute'])} events/s vs the store's raw read rate of the "
                    f"same events (the same per-attempt queries and projection, plain documents) {fmt(raw_read)} events/s\n"
                )
    w("## Findings: what holds a target back, and what was tried\n")
    for finding in FINDINGS:
        w(f"* {finding}")
    w("")
    out.extend(bench_scale.section_block(bench_scale.saved()))  # kept from the last `make bench-scale`
    w("## Product changes made from profiling\n")
    for change in PRODUCT_CHANGES:
        w(f"* {change}")
    w("")
    w("## Files\n")
    w(
        "* `bench/run.py`: this run and this file; `bench/bench_ingest.py`, `bench/raw_server.py`, `bench/ingest_proc.py`; "
        "`bench/bench_sessions.py`; `bench/bench_bulk.py`; `bench/bench_compute.py`; `bench/bench_store.py`, `bench/pages_proc.py`; `bench/bench_live_page.py`; `bench/bench_candidate_page.py`; `bench/common.py`; `bench/bench_scale.py` (`make bench-scale`, its results in `bench/scale.json`)."
    )
    w("* Each `bench_*.py` also runs alone for development, e.g. `.venv/bin/python -m bench.bench_compute`.")
    return "\n".join(out) + "\n"


def render_sessions(ses: bench_sessions.SessionResults) -> list[str]:
    """The whole-sessions section (its own function: measured alone, it was pasted into README.md by hand)."""
    per = ses.events / ses.candidates if ses.candidates else 0
    return [
        "## Whole sessions at once, and batches\n",
        f"`bench/bench_sessions.py`: {ses.candidates} candidates complete a {bench_sessions.TASKS}-task assessment "
        f"at once (about {per:.0f} events each, {ses.events:,} in all), each over its own WebSocket as a page does it "
        "(start, get_task as each task is reached, batches of 1-8 events with one round trip at a time, completion; "
        "`tests/support/load_helpers.py`, which tests/ingest_server/test_load.py runs with 40 for correctness), "
        "through `python -m ingest_server` on a file-backed store with --sync-on-commit. Then "
        f"{bench_sessions.BATCH_CONNECTIONS} connections send {bench_sessions.BATCH_EVENTS:,} tiny events each in "
        f"batches of {bench_sessions.BATCH_SIZE} with at most {bench_sessions.BATCH_WINDOW} unanswered (single "
        "events are the throughput table's).\n",
        "| figure | |",
        "|---|---|",
        f"| {ses.candidates} sessions at once: all completed (s) | {cell(ses.seconds)} |",
        f"| events acknowledged per second over that time | {cell(ses.rate)} |",
        f"| every profile stored, from the start (s) | {cell(ses.profiles)} |",
        f"| ingest server CPU per event, whole sessions (us) | {cell(ses.cpu_ingest)} |",
        f"| store CPU per event, whole sessions (us) | {cell(ses.cpu_store)} |",
        f"| {ses.batch_rate.name} (events/s) | {cell(ses.batch_rate)} |",
        "",
        f"* Every acknowledged event was stored exactly once (counted after each run): {ses.stored_ok}.",
        "* Whole sessions cost the store several times the CPU per event of tiny events: each session also issues "
        "get_task reads, task transitions, the completion and its metrics and profile.",
        "",
    ]


FINDINGS: list[str] = [
    "**The machine is shared and CPU-starved** (load average 1-6 on 2 cores during development): the benchmark "
    "client, the ingest server and the store share the same 2 cores with other engineers' test runs, so every "
    "absolute figure and even the side-by-side ratios move by tens of percent between repeats. Read the spreads; "
    "the CPU-per-event figures come from /proc and hold best.",
    "**Where ingest CPU goes** (issue 20). py-spy (`--gil`) on the server at 100 connections, before: validation "
    "20% (pydantic payload model, `bson.encode` check, then `BehaviorEvent(...)` validating everything again), "
    "building each document with `model_dump` 8%, `Settings.limits` rebuilt per event 7%, answers (one `json.dumps` "
    "and one socket write per ack) 12%, the change stream decoding every stored event for live fan-out 10%, "
    "`ObjectId()` 5%; websockets' own framing about a quarter. After: one validation pass (the event built from the "
    "checked values, the payload encoded only when a value is not plainly storable), documents built by hand once, "
    "limits read once, the acks of a committed group queued on the socket and written in one write (the common ack "
    "without a coroutine), the change stream read as raw BSON and an event decoded only for an attempt someone "
    "here watches, ids from the session's own ObjectId maker: 303 vs 373 us per event side by side (3 runs each, "
    "load average 5-10), 2.85 vs 3.39x the raw websockets server's CPU per message. What is left is spread thin: "
    "validation 18%, websockets framing and JSON about a third, the session's bookkeeping, the committer and the "
    "stream's cursor. Considered, not built: reopening the change stream with a filter on the watched attempts "
    "(no event changes at all when nobody watches); a subscriber arriving while the stream is on the old filter "
    "needs a resume point from before its subscription, and the replay that brings. "
    "The store uses about three times the ingest server's CPU per event (the CPU lines under the throughput "
    "table). On the store: the insert path "
    "re-reads its index catalogue (`Storage._index_options_map`) and checks geo indexes on every `insert_many` "
    "(about a third of its insert CPU), then per document the index entries and the oplog the change stream reads. "
    "Measured side by side and dropped: permessage-deflate off (server CPU per event about 220 us either way over "
    "6 runs each) and polling fan-out instead of the change stream (store CPU per event within the noise). "
    "Since (2026-12-05, second pass): the CPU per event is counted from the moment every connection is open and "
    "started to the last ack; the setup of a connection (handshake, token, `start` with its consent and state "
    "read, 6-7 ms of CPU) was counted in it until then, 110 us of the old 323 us at 60 events a connection, and "
    "is now reported apart (the lines under the throughput table give both). Counted so, side by side on a busy "
    "machine: 181 us vs 87 us for the raw server (2.09x) before the next two changes, 161 vs 89 us (1.80x) after "
    "them. The live change stream now asks only for the events of attempts someone on that server watches "
    "(`fanout.stream_pipeline`, reopened from its position when the set changes, with a resync for a newly "
    "watched attempt): with nobody watching, events cost the fan-out nothing, where before every server read every "
    "stored event (6% of the server's CPU per event in py-spy, and growing with the number of servers). The "
    "common ack is written in the loop turn that learns its write is done (the writer's callback tells the reply) "
    "instead of a turn later when the session's sender wakes."
    + " Since 2026-12-06: permessage-deflate is declined (protocol v1.4, transport). Measured again side by side with the setup counted apart (4 runs each, one run): 198 vs 221 us of CPU per event; the 2026-12-05 comparison above had counted each connection's setup in the per-event figure, which hid the difference. py-spy on the latency window put 12 of 18 samples of queuing an ack in the zlib flush; queuing one ack took 11 instead of 25 us (median). The raw server (a) keeps websockets' defaults, compression included, as when the target was set; the line under the CPU figures gives the ratio against the same raw server without compression too.",
    "**Ack latency.** The biggest cause was the store's retryable-write records: SecantusDB 0.7.0b3 keeps each "
    "retryable write's reply for 30 minutes and scans them all on every write, sorting them once there are 10,000. "
    "On a fresh store `insert_one` went from 0.6 to 3.0 ms at the median and from 1 to 38-44 ms at p99 after "
    "10,000 writes (0.4 ms flat without them); within one bench the ack p50 grew from 20 to 38 ms over five runs. "
    "HireMate's clients of the embedded store no longer ask for retryable writes (`hiremate/db.py`; events are "
    "idempotent by their unique (attempt, seq), transitions are compare-and-sets). The two ceilings in the latency "
    "table place the rest: the raw websockets server answers within about 1 ms at p99, and the store alone, doing "
    "only the group committer's work at the same load (one attempt check and one `insert_many` per group, from one "
    "thread, timed from each group's due time), sets the floor. The ingest server adds the wait for the group ahead "
    "(one writer, so each attempt's events stay in order and a failed group stops its attempts), its own Python "
    "work per event on the same 2 cores, and event-loop stalls. Also done: no waiting window (a 2 ms window cost "
    "about 5 ms at the median and bought no throughput), and the start-up heap frozen (a 19-26 ms full collection "
    "per run gone). Tried and dropped: two and four writer lanes (each attempt pinned to one lane): p99 got worse "
    "by 1.3-2x, because lanes split the groups and the store's per-call cost is what saturates (its insert path "
    "re-reads its index catalogue on every call). The store also checkpoints every 60 s; on this shared VM a p99 "
    "still moves by tens of ms between identical runs. "
    "**The server's own part** is almost all on the way out (store answered -> ack written; frame -> writer is "
    "under 1 ms at p99), and that is mostly waiting for a CPU: the ingest server shares 2 cores with the store (about "
    "a core at this load, with --sync-on-commit) and the benchmark's client. Measured side by side in one run on a "
    "loaded machine: the same server with its event loop's thread at a higher priority (`os.nice(-10)`) had an "
    "own p99 of 2.49 ms against 8.35 ms, and with the collector off 4.61 ms (collector pauses measured in that run: "
    "gen 0 p99 8 ms, gen 2 up to 45 ms, lengthened by the same wait for a CPU; after the start-up heap is frozen a "
    "full collection walks about 35,000 objects, most of them the acks in flight, so nothing leaks). In code: the "
    "writer's thread now resolves a group's futures in one callback (one loop turn less than through the "
    "executor's future), and the common ack is written in that same turn. Not done: raising the server's "
    "priority from inside (it needs CAP_SYS_NICE), or tuning the collector's thresholds without a quiet machine to "
    "show they help. In a deployment the store runs on its own machine and this wait goes away with it."
    + " 2026-12-06: an in-server trace split the way out in two: the loop picking up a written group (p99 0.8-1.3 ms, behind the validations of messages the loop had already lined up) and answering it (about 40 us an ack: half of it the zlib flush, a third the socket write; groups reach 20-90 requests when the store slows, up to 4 ms). Now answers come first (each candidate session drains the writer's queue, `GroupCommitter.answer_waiting`, before handling a message) and nothing is compressed: own p99 2.20 vs 2.26 ms side by side (3 runs each), way out 1.89 vs 2.12 ms. Tried and dropped, each side by side in one run: the writer on pymongo's asyncio client instead of a thread (own p99 5.0 vs 5.0 ms on a loaded machine, 2 x 4 windows: the hop between threads was not the cost); larger collector thresholds (20000, 20, 100): 3.6 vs 2.9 ms; the collector off: 1.7 vs 1.6 ms; the load generator at SCHED_BATCH so that its wake-ups do not preempt the server: 1.5 vs 1.6 ms. What is left is the wait for a CPU: the same load with the server on a core of its own stays near 1 ms."
    + " Later on 2026-12-06: `behavior_events` lost two indexes no read used, `(attempt_id, task_id, timestamp)` and `(event_type, timestamp)` (every read of the events names its attempts, which the unique `(attempt_id, sequence_number)` serves). Each insert maintained them: side by side, groups of 8 events with --sync-on-commit, 3 repeats (`python -m bench.bench_event_indexes`): the store's CPU per event 552 [404-675] instead of 752 [717-802] us, p50 5.2 instead of 6.2 ms and p99 8.1 instead of 10.9 ms per group. That lowers the store's floor under the ack and leaves the ingest server more of the 2 cores. A trace of the way out on the current code (latency windows alone, 750 events/s) put each written group's pickup by the loop at p50 0.1 ms and p99 1.1-1.8 ms, and answering at 35-50 us an ack at the median (the socket write 15-17 us of it), so a group of 20-40 events, which forms whenever the store slows, takes 1-2 ms to answer to its last ack. Tried and dropped: a GIL switch interval of 0.1 ms instead of 0.5 ms, side by side in one run (4 repeats each): own p99 4.8 vs 3.4 ms, end-to-end p99 229 vs 79 ms and CPU per event 178 vs 157 us, since the writer's thread, preempted sooner, wrote later.",
    "**Flat scaling needed counters and windows, not indexes.** SecantusDB 0.7.0b3 decodes every matching document "
    "for a sort, a count or a distinct whatever the index (`explain()`: IXSCAN -> FETCH -> SORT; the reference table "
    "shows a plain newest-25 query and a count growing about 15x from 1,000 to 10,000 attempts), so index-bound "
    "reads are not available with this store. The pages read per-organisation counters instead (kept by `$inc` at "
    "every status change, all in `hiremate/attempts.py`; `python -m hiremate recount` repairs them after a crash "
    "between a change and its increment) and newest-first pages through windows that start at one hour. Still "
    "scanning: a search by name or email, a label filter, position and status together, and pages deeper than "
    "1,000 rows.",
    "**Where the store's CPU goes at the latency load** (2026-12-06, py-spy on SecantusDB during latency windows, "
    "766 events/s, about 950 us of store CPU per event): of its command time, `insert` 57%, the group writer's "
    "attempt check (one `find` of the group's attempts) 25% and the live change stream's `getMore` 16%. The check "
    "reads each attempt whole (1.8 KB with its task snapshots) and matches and projects it in Python: 2.0-2.2 ms of "
    "store CPU for 15 attempts, 0.6 ms for one. It stays: it is what closes a taken-over connection no later than "
    "its next message (protocol) and refuses events after a lock. The change stream on the database made the store "
    "turn every stored event into a change before filtering it out; with nobody watching it now follows the "
    "attempts alone (the product changes below). Tried and dropped, side by side: uvloop as the ingest server's "
    "event loop. Three runs of `bench_ingest --side-by-side` split 5 to 4 between the loops on the own part's p99, "
    "and 8 alternating latency windows at 612 events/s gave 553 against 545 us of server CPU per event and an ack "
    "p99 of 51 against 52 ms: at this load the loop's own overhead is not what costs. Also tried and dropped: the "
    "writer handing the events it stored to this process's own live subscribers, so that the change stream asks "
    "only for watched attempts whose candidate is on another server. One server at a time on a store of its own "
    "(`python -m bench.bench_ingest N --apart RATE --against before=DIR`), latency windows at 700 events/s with 10 "
    "watchers: a first series of 24 windows each gave ack p50 20 against 31 ms and p99 43 against 72, a second of "
    "12 each 24.7 against 20.7 and 61 against 50; what held in both was fan-out p99 3.4-3.8 against 8.4-10.5 ms "
    "(limit 100), the store's CPU per event 4-6% lower and the server's 3-7% higher. Not worth a second delivery "
    "path and the repair of gaps it needs when a candidate moves between servers. (Side by side on one shared "
    "store it had shown nothing at all: the other server's stream, on the database, kept the store turning every "
    "event into a change for both.)",
    "**A store limit found 2026-12-06:** SecantusDB 0.7.0b3's `findAndModify` reads the whole collection for its "
    "write (it writes with `{_id, $and: [query]}`, and a filter with a `$` key never uses an index). With 3,000 "
    "attempts of 1.8 KB: 35-50 ms a `find_one_and_update`, against 4-6 ms for `update_one` with the same filter. "
    "The attempts' compare-and-sets now go through `db.find_one_and_update` (find, then an `update_one` by `_id` "
    "that re-asserts the query and pins what it changes). 100 candidates starting at once through the ingest "
    "server, with 100 to 600 attempts stored: the store's CPU 4.0 -> 7.5 s before, 4.2-5.8 s after; with 3,000 "
    "stored a start waited past the client's 10 s before, and all 100 took 5.5-5.7 s after. The outboxes' claims "
    "(mail and webhook deliveries) were one `findAndModify` with an `$or` filter and a sort, so each read every "
    "message kept (sent ones stay 30 days), and recording a review or a decision (a `$push` to its history) was "
    "one `findAndModify` by `_id`, which read every review (a person reviews every profile). A claim now asks the "
    "oldest due and the oldest expired lease with one indexed query each and takes one by `_id`; a review is an "
    "`update_one` by `_id` and a read back. `python -m bench.bench_claims` (2026-12-06, 20 calls each, same store "
    "and documents): a claim 7.7, 87 and 852 ms before with 0, 1,000 and 20,000 messages kept, 14, 16 and 9.4 ms "
    "now; a review's write 3.5, 23 and 221 ms before, 3.6, 3.6 and 2.5 ms now.",
    "**A store bug found on the way:** SecantusDB 0.7.0b3 serves `$gte` on a descending index field as `$gt` (a "
    "document exactly at the bound is dropped; `$gt`, `$lt`, `$lte` and ascending fields are right). The exports' "
    "from-date filter dropped a completion at exactly midnight; it now asks `$gt` one millisecond earlier, the same "
    "for BSON dates on any store.",
]


PRODUCT_CHANGES: list[str] = [
    "`hiremate/metrics.py` `compute_metrics`: the time line is split by task once, instead of each task's window "
    "scanning every event of the attempt (O(tasks x events) ObjectId comparisons).",
    "`hiremate/keywords.py` `normalise_word`: memoised (`lru_cache`); a pure function of the word.",
    "`hiremate/profiles.py` `_profiled_attempt_pages` (recompute --all): read the matching attempt `_id`s first, then "
    "each page by `_id $in`. Keyed pages of `find(query).sort(_id).limit(100)` made this store read and sort every "
    "remaining attempt for each page, quadratic in the number of attempts: the first full run spent 125 s of 207 s "
    "reading attempt pages at 10,000 attempts (and 3.0 s vs 0.93 s for 2,000 attempts measured side by side). Same "
    "pages, same `_id` order, attempts that end meanwhile still picked up.",
    "Recruiter pages (`hiremate/windowed.py`, `reports.py`, `dashboard.py`): newest-first lists ask the last 1, 3, 7, "
    "30 and 120 days before the whole organisation (a full window returns exactly the unwindowed rows); lookups go by "
    "`_id` alone and check the organisation in Python; the candidates page takes its total and positions from one "
    "grouped read; the dashboard reads statuses and completion times once and takes the exact median in Python. Side "
    "by side on one 10,000-attempt store: candidates 3.73 -> 0.84 s, compare 2.15 -> 0.27 s, dashboard 5.20 -> 0.93 s.",
    "Per-organisation attempt counters (`hiremate/attempt_counts.py`): counts by position and status, completions "
    "per UTC day and a histogram of durations in whole seconds, kept by `$inc` after every compare-and-set in "
    "`hiremate/attempts.py`. The candidates page's totals and positions and the dashboard's numbers read a few "
    "small documents instead of every attempt (the dashboard's median is now exact to the second). Windows for "
    "newest-first pages now start at 1 and 6 hours. The remaining growth of the pages from 1,000 to 10,000 attempts "
    "was these reads (0.75 and 0.87 s at 10,000 before).",
    "Ingest: the group commit's waiting window is 0 by default (`HIREMATE_GROUP_COMMIT_MS`): groups form from what "
    "queues while the previous group commits; side by side the 2 ms window added about 5 ms to the median ack and "
    "no throughput at 1, 10 or 100 connections. `python -m ingest_server` freezes its start-up heap once serving "
    "(`gc.freeze()`), which removed a 19-26 ms full collection stall per latency run.",
    "`hiremate/db.py`: no retryable writes on the embedded store (a MongoDB server still gets them): the store's "
    "per-write scan and sort of its retryable-write records made every write slower the busier it had been.",
    "Ingest CPU per event (issue 20, `hiremate/events.py`, `hiremate/models.py`, `ingest_server/session.py`, "
    "`connection.py`, `fanout.py`): one validation pass, documents built once, acks of a group written together, "
    "live fan-out decoding only watched events (see the findings); measured side by side against the previous "
    "commit's server in one run with `python -m bench.bench_ingest 3 --side-by-side --against before=DIR`: "
    "373 -> 303 us per event at 100 connections. The server's own part of each ack is now measured inside it "
    "(`ingest_server/latency.py`).",
    "Live fan-out (`ingest_server/fanout.py`, `stream_target`): while an ingest server has no live subscriber its "
    "change stream follows `task_attempts` alone, so the store no longer turns each stored event into a change for "
    "it. Inserts of 15 events back to back: 669-765 us of store CPU per event with a stream on the database, "
    "512-572 with one on `task_attempts`, 443-532 with none. Through the ingest server at 100 connections with "
    "nobody watching, one server at a time on a store of its own (6 runs each, medians): store 1,093 against "
    "1,212 us per event, throughput 1,722 against 1,687 events/s (within the noise). (A first side-by-side showed "
    "1,820 against 1,550 events/s, but both servers shared one store and the older one's stream kept the store "
    "turning events into changes in both runs: that difference was noise.) The latency windows have 10 "
    "subscribers, so they keep the stream on the database.",
]


def _own_part_by_group(ing: Any) -> str:
    """The server's own p99 of each window beside the mean group it answered."""

    def paired(owns: list[float], groups: list[float]) -> str:
        # This checkout's server measures its own part in every window, so the lists pair up.
        return "; ".join(f"{fmt(own)} ms with groups of {fmt(group)}" for own, group in zip(owns, groups, strict=False))

    shared = paired(ing.own_p99.runs, ing.latency_group.runs)
    pinned = paired(ing.own_core_p99.runs, ing.own_core_group.runs)
    return (
        "What the server's own part is made of: answering a written group writes its acks one after the other, "
        "about 50 us an ack here (in a trace of 6 windows at 900 events/s on 2026-12-06: 49-57 us, of which the "
        "socket write 24-36 us, since on loopback the write also does the client's receiving and wakes it; the "
        "future and the frame about 20 us), so the last ack of a group of 20 waits about 1 ms behind the others "
        "and of a group of 60 about 3 ms; on top come the waits for a CPU, before the loop picks a group up and "
        "whenever it is preempted while answering, which on these shared cores are the larger part (own p99 "
        "2.8-9.3 ms in the same trace, with groups of 13-26). A group holds what arrived while the previous one "
        "was being written, so its size follows the store's commit time, which moves from window to window on "
        "this shared machine (in 8 alternating windows at 900 events/s the mean group ranged from 6 to 93 "
        "events while the store used 0.69-0.80 of a core; the own part's p99 was 0.9-3.7 ms with groups under "
        "12 and 6-9.6 ms with groups over 60). Each "
        "window of this run, the own part's p99 and the mean group: shared cores "
        + shared
        + (f"; on a core of its own {pinned}" if pinned else "")
        + ".\n"
    )


if __name__ == "__main__":
    sys.exit(main())
