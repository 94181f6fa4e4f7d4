"""Plotly figures for the profile and compare pages.

Pure functions of the frames built in ``hiremate.reports`` (no database).
Colours are calm and colour-blind safe; risk levels use one blue hue from
light to dark, so no level reads as "good" or "bad". Titles describe what
was measured, never how the candidate felt.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from hiremate.reports import RADAR_ROWS, column_label

ACTIVE_COLOUR = "#3B6EA5"
HESITATION_COLOUR = "#B8C4D6"
BAR_COLOUR = "#4C78A8"
RISK_COLOURS = {"low": "#A6C8E0", "medium": "#5B8DB8", "high": "#1F4E79"}
# Okabe-Ito: distinguishable with every common colour-vision deficiency.
CANDIDATE_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9"]

# The compare bars' panels: each groups measures of one unit and scale.
_BAR_PANELS = [
    ("Whole assessment (s)", ["total_time_seconds", "active_time_seconds", "hesitation_time_seconds"]),
    ("Per task (s)", ["avg_time_per_task_seconds", "mean_first_decision_seconds"]),
    ("Changes per task", ["mean_decision_changes"]),
]
_TITLE_LENGTH = 28


def _layout(figure: go.Figure, title: str, **kwargs: object) -> go.Figure:
    figure.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"},
        template="plotly_white",
        font={"family": "Inter, Segoe UI, Helvetica, Arial, sans-serif", "size": 13},
        # The legend below the plot: above it, a long legend ran into the title.
        margin={"l": 60, "r": 20, "t": 60, "b": 110},
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0, "xanchor": "left"},
        **kwargs,
    )
    return figure


def _empty(title: str, message: str = "No completed tasks to show") -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return _layout(figure, title)


def plain(text: str) -> str:
    """``text`` shown as typed in a figure. Plotly reads a few HTML tags in
    axis labels, legends and hover text (``<a href>`` becomes a link, ``<b>``
    bold), so a candidate named ``<a href="https://evil">…</a>`` would put a
    phishing link in the compare legend; as entities, which plotly shows as
    the characters, the text stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _task_labels(per_task: pd.DataFrame) -> list[str]:
    """``3. Budget overrun``: numbered, since two tasks may share a title."""
    labels = []
    for number, title in zip(per_task["task_number"], per_task["task_title"], strict=True):
        title = str(title)
        short = title if len(title) <= _TITLE_LENGTH else title[: _TITLE_LENGTH - 1] + "…"
        labels.append(f"{number}. {plain(short)}")
    return labels


# ---------------------------------------------------------------- one candidate


def time_per_task_chart(per_task: pd.DataFrame) -> go.Figure:
    """Seconds per task, stacked: active interaction and hesitation."""
    title = "Time per task"
    if per_task.empty:
        return _empty(title)
    tasks = _task_labels(per_task)
    figure = go.Figure(
        [
            go.Bar(name="Active", x=tasks, y=per_task["active_seconds"], marker_color=ACTIVE_COLOUR),
            go.Bar(name="Hesitation", x=tasks, y=per_task["hesitation_seconds"], marker_color=HESITATION_COLOUR),
        ]
    )
    figure.update_traces(hovertemplate="%{x}<br>%{fullData.name}: %{y:.1f}s<extra></extra>")
    return _layout(figure, title, barmode="stack", xaxis_title="Task", yaxis_title="Seconds")


def decision_changes_chart(per_task: pd.DataFrame) -> go.Figure:
    """How often the chosen option was changed in each task."""
    title = "Decision changes per task"
    if per_task.empty:
        return _empty(title)
    bars = go.Bar(
        x=_task_labels(per_task),
        y=per_task["decision_changes"],
        marker_color=BAR_COLOUR,
        hovertemplate="%{x}<br>%{y} change(s)<extra></extra>",
    )
    return _counts(bars, title, xaxis_title="Task", yaxis_title="Changes")


def risk_mix_chart(per_task: pd.DataFrame) -> go.Figure:
    """How many final choices were low, medium and high risk."""
    title = "Risk level of final choices"
    if per_task.empty:
        return _empty(title)
    counts = per_task["risk_level"].value_counts()
    levels = list(RISK_COLOURS)
    bars = go.Bar(
        x=[level.capitalize() for level in levels],
        y=[int(counts.get(level, 0)) for level in levels],
        marker_color=[RISK_COLOURS[level] for level in levels],
        hovertemplate="%{x} risk: %{y} task(s)<extra></extra>",
    )
    return _counts(bars, title, xaxis_title="Risk level", yaxis_title="Tasks")


def _counts(bars: go.Bar, title: str, *, xaxis_title: str, yaxis_title: str) -> go.Figure:
    """One series of whole counts: the axis starts at zero and steps by one."""
    figure = go.Figure(bars)
    figure.update_yaxes(rangemode="tozero", dtick=1)
    return _layout(figure, title, xaxis_title=xaxis_title, yaxis_title=yaxis_title, showlegend=False)


def first_decision_chart(per_task: pd.DataFrame) -> go.Figure:
    """Seconds from each task's start to the first option selected."""
    title = "Time to first decision"
    if per_task.empty:
        return _empty(title)
    figure = go.Figure(
        go.Scatter(
            x=_task_labels(per_task),
            y=per_task["first_decision_seconds"],
            mode="lines+markers",
            line={"color": BAR_COLOUR, "width": 2},
            marker={"size": 9},
            hovertemplate="%{x}<br>%{y:.1f}s<extra></extra>",
        )
    )
    figure.update_yaxes(rangemode="tozero")
    return _layout(figure, title, xaxis_title="Task", yaxis_title="Seconds", showlegend=False)


# ---------------------------------------------------------------- compare


def compare_radar_chart(compare: pd.DataFrame) -> go.Figure:
    """The 0..1 patterns of each candidate on one radar (``RADAR_ROWS``)."""
    title = "Behaviour patterns (0 to 1)"
    if compare.empty:
        return _empty(title, "No candidates to compare")
    axes = [column_label(row) for row in RADAR_ROWS]
    figure = go.Figure()
    for index, candidate in enumerate(compare.columns):
        values = [float(compare.at[row, candidate]) for row in RADAR_ROWS]
        colour = CANDIDATE_COLOURS[index % len(CANDIDATE_COLOURS)]
        figure.add_trace(
            go.Scatterpolar(
                r=[*values, values[0]],  # closes the shape
                theta=[*axes, axes[0]],
                name=plain(str(candidate)),
                line={"color": colour, "width": 2},
                fill="toself",
                opacity=0.55,
                hovertemplate="%{theta}: %{r:.2f}<extra>%{fullData.name}</extra>",
            )
        )
    figure.update_layout(polar={"radialaxis": {"range": [0, 1], "tickvals": [0, 0.25, 0.5, 0.75, 1]}})
    return _layout(figure, title)


def compare_bars_chart(compare: pd.DataFrame) -> go.Figure:
    """Grouped bars, one colour per candidate, in three panels of one unit
    each: the whole assessment's times, per-task times, decision changes."""
    title = "Time and decisions"
    if compare.empty:
        return _empty(title, "No candidates to compare")
    figure = make_subplots(
        rows=1,
        cols=len(_BAR_PANELS),
        column_widths=[0.5, 0.33, 0.17],
        subplot_titles=[panel for panel, _ in _BAR_PANELS],
    )
    for index, candidate in enumerate(compare.columns):
        colour = CANDIDATE_COLOURS[index % len(CANDIDATE_COLOURS)]
        for column, (_, rows) in enumerate(_BAR_PANELS, start=1):
            figure.add_trace(
                go.Bar(
                    name=plain(str(candidate)),
                    x=[column_label(row) for row in rows],
                    y=[float(compare.at[row, candidate]) for row in rows],
                    marker_color=colour,
                    legendgroup=str(candidate),
                    showlegend=column == 1,
                    hovertemplate="%{x}: %{y:.1f}<extra>%{fullData.name}</extra>",
                ),
                row=1,
                col=column,
            )
    figure.update_yaxes(rangemode="tozero")
    figure.update_yaxes(title_text="Seconds", row=1, col=1)
    figure.update_yaxes(title_text="Seconds", row=1, col=2)
    figure.update_yaxes(title_text="Changes", row=1, col=3)
    return _layout(figure, title, barmode="group")
