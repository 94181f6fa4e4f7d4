"""Figures built from real frames: what each chart plots is the data it was given."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime

import pandas as pd
import pytest
from bson import ObjectId

from hiremate import reports
from hiremate.models import CandidateInfo
from hiremate.ops import simulate
from hiremate.profiles import build_profile
from hiremate.scope import Scope
from recruiter import charts

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
# Words that attribute a feeling or state of mind: never in a figure.
EMOTION_WORDS = {"anxious", "stressed", "nervous", "frustrated", "calm", "confident", "panic", "hesitant", "afraid"}
_seeds = itertools.count(500)


@pytest.fixture
def per_task():
    session = simulate.simulate_session(random.Random(21), task_count=5)
    metrics, _ = build_profile(session.attempt, session.behavior_events, now=NOW)
    return reports.per_task_frame(metrics, session.attempt)


@pytest.fixture
def empty_per_task():
    return pd.DataFrame(columns=reports.PER_TASK_COLUMNS)


@pytest.fixture
def compare(db):
    scope = Scope(db, ObjectId(), ObjectId())
    tasks = simulate.make_tasks(random.Random(8), 3)
    ids = [
        simulate.seed_completed_attempt(
            db,
            organization_id=scope.organization_id,
            tasks=tasks,
            rng=random.Random(next(_seeds)),
            candidate=CandidateInfo(name=name, email=f"{name.lower()}@example.com", position="Analyst"),
        ).id
        for name in ("Ada", "Alan", "Grace")
    ]
    return reports.compare_frame(scope, ids)


def figure_text(figure) -> str:
    return figure.to_json().lower()


def test_time_per_task_stacks_active_and_hesitation(per_task):
    figure = charts.time_per_task_chart(per_task)
    active, hesitation = figure.data
    assert (active.name, hesitation.name) == ("Active", "Hesitation")
    assert figure.layout.barmode == "stack"
    assert list(active.y) == per_task["active_seconds"].tolist()
    assert list(hesitation.y) == per_task["hesitation_seconds"].tolist()
    for total, a, h in zip(per_task["time_spent_seconds"], active.y, hesitation.y, strict=True):
        assert a + h == pytest.approx(total, abs=1e-3)
    assert list(active.x) == [f"{n}. {t}" for n, t in zip(per_task["task_number"], per_task["task_title"], strict=True)]
    assert figure.layout.xaxis.title.text == "Task" and figure.layout.yaxis.title.text == "Seconds"


def test_decision_changes_and_first_decisions_plot_the_frame(per_task):
    changes = charts.decision_changes_chart(per_task)
    assert list(changes.data[0].y) == per_task["decision_changes"].tolist()
    assert changes.layout.yaxis.title.text == "Changes"
    first = charts.first_decision_chart(per_task)
    assert list(first.data[0].y) == per_task["first_decision_seconds"].tolist()
    assert first.layout.yaxis.title.text == "Seconds"


def test_risk_mix_counts_final_choices_in_fixed_order(per_task):
    figure = charts.risk_mix_chart(per_task)
    bar = figure.data[0]
    assert list(bar.x) == ["Low", "Medium", "High"]
    counts = per_task["risk_level"].value_counts()
    assert list(bar.y) == [int(counts.get(level, 0)) for level in ("low", "medium", "high")]
    assert sum(bar.y) == len(per_task)
    assert list(bar.marker.color) == list(charts.RISK_COLOURS.values())


def test_long_titles_are_shortened_but_tasks_stay_apart():
    frame = pd.DataFrame(
        {"task_number": [1, 2], "task_title": ["A very long scenario title about a supplier delay", "Short"]}
    )
    labels = charts._task_labels(frame)
    assert labels[0].startswith("1. A very long") and labels[0].endswith("…") and len(labels[0]) <= 31
    assert labels[1] == "2. Short"


@pytest.mark.parametrize(
    "chart",
    [charts.time_per_task_chart, charts.decision_changes_chart, charts.risk_mix_chart, charts.first_decision_chart],
)
def test_no_completed_task_gives_a_message_not_an_error(chart, empty_per_task):
    figure = chart(empty_per_task)
    assert not figure.data
    assert figure.layout.annotations[0].text == "No completed tasks to show"


def test_compare_radar_draws_each_candidate_closed_on_0_to_1(compare):
    figure = charts.compare_radar_chart(compare)
    assert [trace.name for trace in figure.data] == list(compare.columns)
    labels = [reports.COLUMN_LABELS[row] for row in reports.RADAR_ROWS]
    for trace, candidate in zip(figure.data, compare.columns, strict=True):
        values = [compare.at[row, candidate] for row in reports.RADAR_ROWS]
        assert list(trace.r) == [*values, values[0]]
        assert list(trace.theta) == [*labels, labels[0]]
        assert all(0 <= value <= 1 for value in trace.r)
    assert tuple(figure.layout.polar.radialaxis.range) == (0, 1)
    assert len({trace.line.color for trace in figure.data}) == 3


def test_compare_bars_group_by_unit(compare):
    figure = charts.compare_bars_chart(compare)
    assert figure.layout.barmode == "group"
    assert len(figure.data) == 3 * len(compare.columns)
    first_candidate = [trace for trace in figure.data if trace.name == compare.columns[0]]
    assert [trace.showlegend for trace in first_candidate] == [True, False, False]
    whole, per_task, changes = first_candidate
    assert list(whole.y) == [
        compare.at[row, compare.columns[0]]
        for row in ("total_time_seconds", "active_time_seconds", "hesitation_time_seconds")
    ]
    assert list(per_task.x) == ["Average time per task (s)", "Average first decision (s)"]
    assert list(changes.y) == [compare.at["mean_decision_changes", compare.columns[0]]]
    assert [axis.title.text for axis in (figure.layout.yaxis, figure.layout.yaxis2, figure.layout.yaxis3)] == [
        "Seconds",
        "Seconds",
        "Changes",
    ]


def test_empty_compare_gives_a_message():
    empty = pd.DataFrame(index=reports.COMPARE_ROWS)
    for chart in (charts.compare_radar_chart, charts.compare_bars_chart):
        assert chart(empty).layout.annotations[0].text == "No candidates to compare"


def test_figures_describe_behaviour_without_emotion_words(per_task, compare):
    figures = [
        charts.time_per_task_chart(per_task),
        charts.decision_changes_chart(per_task),
        charts.risk_mix_chart(per_task),
        charts.first_decision_chart(per_task),
        charts.compare_radar_chart(compare),
        charts.compare_bars_chart(compare),
    ]
    for figure in figures:
        assert figure.layout.title.text
        text = figure_text(figure)
        assert not {word for word in EMOTION_WORDS if word in text}


# Plotly reads <a href>, <b>, <br> and the like in labels, legends and hover
# text: typed text must reach the browser as entities, never as tags.
HOSTILE_TITLE = '<a href="https://evil.test/x">Click</a> <b>now</b> & win'


def _hostile(per_task: pd.DataFrame, compare: pd.DataFrame) -> list:
    titled = per_task.assign(task_title=[HOSTILE_TITLE[:20]] + [HOSTILE_TITLE] * (len(per_task) - 1))
    named = compare.set_axis([f"{HOSTILE_TITLE} {n}" for n in range(len(compare.columns))], axis=1)
    figures = [chart(titled) for chart in (charts.time_per_task_chart, charts.decision_changes_chart)]
    figures.append(charts.first_decision_chart(titled))
    return [*figures, charts.compare_radar_chart(named), charts.compare_bars_chart(named)]


def test_text_from_people_reaches_plotly_as_text_not_tags(per_task, compare):
    for figure in _hostile(per_task, compare):
        shown = [str(name) for name in (trace.name for trace in figure.data) if name is not None]
        shown += [str(x) for trace in figure.data for x in (trace.x if hasattr(trace, "x") and trace.x else ())]
        assert shown
        assert not [text for text in shown if "<" in text or ">" in text], shown
    radar = charts.compare_radar_chart(compare.set_axis(["A <b>&</b> B", "C", "D"], axis=1))
    assert radar.data[0].name == "A &lt;b&gt;&amp;&lt;/b&gt; B"
    labels = charts._task_labels(pd.DataFrame({"task_number": [1], "task_title": ["<b>x</b>"]}))
    assert labels == ["1. &lt;b&gt;x&lt;/b&gt;"]


@pytest.mark.e2e
def test_plotly_in_chromium_draws_the_hostile_text_as_written(per_task, compare, tmp_path):
    """Plotly.js itself, in Chromium: no link or bold element from typed text,
    and the legend reads exactly what was typed."""
    from pathlib import Path

    import plotly
    from playwright.sync_api import sync_playwright

    from tests.support.chromium import launch, require_chromium

    require_chromium()
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    figures = _hostile(per_task, compare)
    divs = "".join(f'<div id="f{n}"></div>' for n in range(len(figures)))
    draw = "".join(
        f"var f{n} = {figure.to_json()}; Plotly.newPlot('f{n}', f{n}.data, f{n}.layout);"
        for n, figure in enumerate(figures)
    )
    page_file = tmp_path / "charts.html"
    page_file.write_text(f'<html><body>{divs}<script src="{plotly_js.as_uri()}"></script><script>{draw}</script>')
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page()
            page.goto(page_file.as_uri())
            page.wait_for_selector("#f4 .legendtext")
            assert page.locator("svg a").count() == 0
            assert page.locator("svg text b, svg tspan[style*='bold']").count() == 0
            legend = page.locator("#f3 .legendtext").all_text_contents()
            assert legend[0] == f"{HOSTILE_TITLE} 0"
        finally:
            browser.close()
