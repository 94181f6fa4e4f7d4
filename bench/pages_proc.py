"""Recruiter pages through AppTest, in a process of their own (for its peak
RSS): server time of the candidates, compare and dashboard pages, and of a
profile with its norms shown (the norms' target: under 1 s at 10,000 attempts).

    python bench/pages_proc.py --user-id ID --compare A,B,C --repeats N
    (HIREMATE_MONGODB_URI / HIREMATE_DB_NAME / HIREMATE_SECRET from the environment)

Prints one JSON object: {"pages": {page: [seconds, ...]}, "peak_rss_mb": x}.
"""

from __future__ import annotations

import argparse
import json
import time

import streamlit as st
from bson import ObjectId
from streamlit.testing.v1 import AppTest

from bench.common import ROOT, peak_rss_mb
from hiremate import auth
from hiremate.db import USERS, get_db
from hiremate.models import User

PAGES = {
    "candidates": ("app_pages/candidates.py", {}),
    "compare": ("app_pages/compare.py", {"attempts": None}),
    "dashboard": ("app_pages/dashboard.py", {}),
    "profile with norms": ("app_pages/profile.py", {"attempt": None}),
}
STATE = {"profile with norms": {"profile_show_norms": True}}


def server_time(user: User, page: str, query: dict[str, str], state: dict[str, object] | None = None) -> float:
    db = get_db()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["auth_token"] = auth.start_session(db, user, days=1)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(page)
    started = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - started
    if at.exception:
        raise RuntimeError(f"{page}: {[e.value for e in at.exception]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--user-id", required=True)
    parser.add_argument("--compare", required=True)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    user = User.from_doc(get_db()[USERS].find_one({"_id": ObjectId(args.user_id)}))
    queries = {"compare": {"attempts": args.compare}, "profile with norms": {"attempt": args.compare.split(",")[0]}}
    # Warm-up without touching the measured pages' data: the first AppTest run in a process and the
    # modules the pages import (charts, tables) cost once per process, not per visit.

    import hiremate.reports  # noqa: F401

    server_time(user, "app_pages/account.py", {})
    # Each page once, unmeasured: its own first render in a process (imports, first widgets) is not a visit's cost.
    for name, (page, _query) in PAGES.items():
        server_time(user, page, queries.get(name, {}), STATE.get(name))
    times: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for name, (page, _query) in PAGES.items():
            # Streamlit's data caches are cleared first: each run is what a visit costs when
            # nothing is cached (the dashboard caches its counts for 10 s, the positions list for 60 s).
            st.cache_data.clear()
            times.setdefault(name, []).append(server_time(user, page, queries.get(name, {}), STATE.get(name)))
    print(json.dumps({"pages": times, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main()
