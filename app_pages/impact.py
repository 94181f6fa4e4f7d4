"""Impact report (admins): selection, label and scoring rates by sex,
race/ethnicity and both, with impact ratios, from the organisation's own
data. The figures come from hiremate.impact; this page is the filters, the
tables and the downloads. It shows groups and counts, never a candidate."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from hiremate import impact
from recruiter import session, ui

BUILT = "impact_built"  # {"filters": ..., "report": ImpactReport}: built (and audited) once per choice of filters
SECTIONS = {
    "selection": "Selection",
    "label": "Profile labels",
    "scoring": "Scoring rates",
}

session.require_admin("Impact report")
scope = session.current_scope()

st.title("Impact report")
st.markdown(
    "Does any step treat groups of candidates differently? This report compares groups formed from the "
    "candidates' voluntary self-identification (sex, race/ethnicity and both together), using your own "
    "completed assessments and the decisions your team recorded. It shows groups and counts, never a candidate. "
    "It supports an independent bias audit (such as the one New York City's Local Law 144 requires); it does "
    "not replace one."
)
st.markdown(
    f"* **Impact ratio:** a group's rate divided by the rate of the group with the highest rate, so the highest "
    f"group is 1.00.\n"
    f"* **Below 0.8:** a ratio under four-fifths, the usual first screen (29 CFR 1607.4(D)); it calls for a closer "
    f"look, it does not prove unfairness, and a ratio above it is no guarantee either.\n"
    f"* Groups under 2% of the people are shown but left out of the ratios, and people who preferred not to say "
    f"are counted apart. Under {impact.MIN_PEOPLE} people the figures say little."
)

with session.database_guard():
    positions = ui.positions(scope)
position_col, from_col, to_col = st.columns(3)
position = position_col.selectbox(
    "Position", ["", *positions], format_func=lambda value: value or "All positions", key="impact_position"
)
date_from: date | None = from_col.date_input("Completed from", value=None, key="impact_from", format="YYYY-MM-DD")
date_to: date | None = to_col.date_input("Completed until", value=None, key="impact_to", format="YYYY-MM-DD")
st.caption("Days in your organisation's time zone, both included.")
filters = {"position": position or None, "period_from": date_from, "period_to": date_to}

built: dict[str, Any] = st.session_state.get(BUILT) or {}
if built.get("filters") != filters:
    built = {}
    with session.database_guard(), ui.refusals(), st.spinner("Computing the report…"):
        built = {"filters": filters, "report": impact.impact_report(scope, **filters)}
    st.session_state[BUILT] = built
report: impact.ImpactReport | None = built.get("report")
if report is None:
    st.stop()

for warning in report.warnings:
    st.warning(warning)
st.subheader("Summary")
st.markdown(
    f"**{report.people}** completed {'assessment' if report.people == 1 else 'assessments'}; "
    f"**{report.decided}** with a recorded decision "
    f"(the selection rates count only these), **{report.selected}** advanced. "
    f"Unknown sex: **{report.counts['sex'].get(impact.UNKNOWN, 0)}**; unknown race/ethnicity: "
    f"**{report.counts['race_ethnicity'].get(impact.UNKNOWN, 0)}**."
)
flagged = report.flagged
if flagged:
    st.markdown(
        "**Groups below 0.8:**\n"
        + "\n".join(
            f"* {session.escape_markdown(t.title)}, by {impact.BREAKDOWNS[t.breakdown][0].lower()}: "
            f"{session.escape_markdown(r.group)}: {r.ratio:.2f}"
            for t, r in flagged
        )
    )
else:
    st.markdown("**No group below 0.8.**")

stamp = report.meta.generated_at.strftime("%Y%m%d")
left, middle, right = st.columns(3)
for column, (label, data, mime, ext) in zip(
    (left, middle, right),
    (
        ("Download (Markdown)", report.to_markdown(), "text/markdown", "md"),
        ("Download (CSV)", report.to_csv(), "text/csv", "csv"),
        ("Download (JSON)", json.dumps(report.as_json(), indent=2, ensure_ascii=False), "application/json", "json"),
    ),
    strict=True,
):
    column.download_button(
        label,
        data=data.encode("utf-8"),
        file_name=f"hiremate-impact-report-{stamp}.{ext}",
        mime=mime,
        on_click="ignore",
        key=f"impact_download_{ext}",
        icon=":material/download:",
    )

breakdown = st.radio(
    "Groups",
    list(impact.BREAKDOWNS),
    format_func=lambda key: impact.BREAKDOWNS[key][0],
    horizontal=True,
    key="impact_breakdown",
)
for tab, section in zip(st.tabs(list(SECTIONS.values())), SECTIONS, strict=True):
    with tab:
        tables = [t for t in report.section(section) if t.breakdown == breakdown]
        if not tables:
            st.info("Nothing to show yet.")
        records = [
            {
                "Measure": t.title,
                "Group": r.group,
                "People": r.count,
                "Rate": f"{r.rate:.1%}",
                "Impact ratio": "" if r.ratio is None else f"{r.ratio:.2f}",
                "Below 0.8": "yes" if r.below_threshold else "",
                "Fisher's p": "" if r.fisher_p is None else f"{r.fisher_p:.4f}",
                "Note": r.excluded or "",
            }
            for t in tables
            for r in t.rows
        ]
        if records:
            ui.data_table(pd.DataFrame.from_records(records), what="the impact ratios", hide_index=True)
            unknown = {t.unknown for t in tables}
            st.caption(
                f"Unknown category (not in the ratios): {', '.join(map(str, sorted(unknown)))} people. "
                "Fisher's p: the exact test of the group against the rest; small values (under 0.05) mean a "
                "difference this large is unlikely by chance alone."
            )
