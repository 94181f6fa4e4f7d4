"""bench-scale's part of bench/README.md: written between its markers,
replaced (not added to) by the next run, and kept by `make bench`'s render."""

from __future__ import annotations

from bench import bench_scale

DATA = {
    "date": "2026-12-05 21:00 UTC",
    "machine": "2 cores",
    "load_start": "1.00 1.00 1.00",
    "load_end": "1.00 1.00 1.00",
    "elapsed_seconds": 1500,
    "seed_seconds": [110.0, 1200.0],
    "points": [
        {"attempts": 10_000, "events": 310_000, "pages": {"candidates": [0.1, 0.1], "compare": [0.2]},
         "recompute": {"attempts": 3000, "seconds": 10.0, "attempts_per_s": 300.0}},
        {"attempts": 100_000, "events": 3_100_000, "pages": {"candidates": [0.12, 0.13], "compare": [0.5]},
         "recompute": {"attempts": 3000, "seconds": 12.0, "attempts_per_s": 250.0}},
    ],
}  # fmt: skip


def test_each_page_is_met_only_under_a_second_and_within_one_and_a_half_times():
    rows = {row[0].split(" with ")[0]: row for row in bench_scale.target_rows(DATA)}
    assert rows["candidates"][3] == "**met**" and "1.25x" in rows["candidates"][1]
    assert rows["compare"][3] == "**not met**"  # 0.5 s, but 2.5x of 0.2 s


def test_a_run_replaces_its_blocks_and_leaves_the_rest():
    before = ["# Benchmarks", "## Targets", "| a |", *bench_scale.targets_block(None), "## Ingest", "x"]
    readme = "\n".join([*before, *bench_scale.section_block(None), "## Files"])
    once = bench_scale.readme_with(readme, DATA)
    twice = bench_scale.readme_with(once, DATA)
    assert once == twice  # replaced, never appended
    assert once.count("## Scale: 100,000 attempts") == 1 and "**250 attempts/s**" in once
    assert (
        once.index("| candidates with 100,000")
        < once.index("## Ingest")
        < once.index("## Scale")
        < once.index("## Files")
    )
    assert "(not run on this machine yet)" not in once
