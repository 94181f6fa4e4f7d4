"""bench_store's per-operation timing: the stores' samples alternate."""

from __future__ import annotations

import time

from bench import bench_store


def test_each_operation_is_sampled_on_every_store_in_turn():
    order: list[str] = []

    def call(name: str, seconds: float):
        def run() -> None:
            order.append(name)
            time.sleep(seconds)

        return run

    medians = bench_store._alternating_medians_ms([call("small", 0.001), call("large", 0.004)], 3)
    assert order == ["small", "large"] * 3  # a pause of the machine falls on both alike
    assert 1 <= medians[0] < medians[1]
    assert medians[1] >= 4
