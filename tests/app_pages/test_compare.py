"""The compare page through the real path: completed attempts with real
profiles, picked in the page or named by a shared link."""

from __future__ import annotations

from hiremate import db as dbmod
from hiremate.models import AttemptStatus
from tests.support.page_helpers import make_org, seed_completed, seed_session, stored_profile, texts, words

COMPARE = "app_pages/compare.py"


def comparison(at):
    return at.dataframe[0].value


def test_compare_two_candidates_side_by_side(app_env, db):
    org = make_org(db)
    ada = seed_completed(org, name="Ada Lovelace")
    alan = seed_completed(org, name="Alan Turing")
    seed_session(org, status=AttemptStatus.IN_PROGRESS, name="Grace Hopper")  # not completed: not offered

    at = org.open_page(COMPARE)
    picker = at.multiselect(key="compare_selection")
    assert len(picker.options) == 2
    assert "Choose 2 to 5 candidates" in at.info[0].value
    picker.set_value([str(ada.id), str(alan.id)]).run()
    assert not at.exception

    table = comparison(at)
    assert list(table.columns) == ["Ada Lovelace", "Alan Turing"]
    for attempt, column in ((ada, "Ada Lovelace"), (alan, "Alan Turing")):
        profile = stored_profile(org, attempt)
        assert table.at["Thinking style", column] == words(profile["thinking_style"]["primary"])
        assert table.at["Risk orientation", column] == words(profile["risk_orientation"]["preference"])
        assert table.index[0] == "Email" and "Attempt" not in table.index  # people, not ids (the CSV keeps them)
        assert table.at["Tasks completed", column] == str(len(org.tasks))
    plain = at.table[0].value  # the same rows as an HTML table, for screen readers (the data frame is a canvas)
    assert list(plain.columns) == ["Ada Lovelace", "Alan Turing"] and list(plain.index) == list(table.index)
    assert "as a plain table (for screen readers)" in at.expander[0].label
    assert len(at.get("plotly_chart")) == 2
    assert [button.key for button in at.get("download_button")] == ["compare_download"]
    assert at.query_params["attempts"] == f"{ada.id},{alan.id}"  # the comparison can be shared
    assert db[dbmod.AUDIT_LOG].count_documents({"action": "export"}) == 0  # the CSV is built on click


def test_a_shared_link_prefills_the_comparison(app_env, db):
    org = make_org(db)
    ada, alan, grace = (seed_completed(org, name=name) for name in ("Ada Lovelace", "Alan Turing", "Grace Hopper"))
    at = org.open_page(COMPARE, attempts=f"{grace.id},{ada.id}")
    assert at.multiselect(key="compare_selection").value == [str(grace.id), str(ada.id)]
    assert list(comparison(at).columns) == ["Grace Hopper", "Ada Lovelace"]
    assert str(alan.id) not in comparison(at).to_string()


def test_refuses_a_single_candidate(app_env, db):
    org = make_org(db)
    ada = seed_completed(org, name="Ada Lovelace")
    seed_completed(org, name="Alan Turing")
    at = org.open_page(COMPARE, attempts=str(ada.id))
    assert "Choose at least one more candidate" in at.warning[0].value
    assert not at.dataframe
    assert not at.get("plotly_chart")


def test_refuses_six_candidates(app_env, db):
    org = make_org(db)
    six = [seed_completed(org, name=f"Candidate {number}") for number in range(6)]
    at = org.open_page(COMPARE, attempts=",".join(str(attempt.id) for attempt in six))
    assert "this link names 6" in at.error[0].value
    assert not at.dataframe
    picker = at.multiselect(key="compare_selection")
    assert picker.value == []
    assert picker.proto.max_selections == 5


def test_search_narrows_the_list_but_keeps_the_chosen(app_env, db):
    org = make_org(db)
    ada = seed_completed(org, name="Ada Lovelace")
    alan = seed_completed(org, name="Alan Turing")
    at = org.open_page(COMPARE, attempts=f"{ada.id},{alan.id}")
    at.text_input(key="compare_search").input("lovelace").run()
    assert not at.exception
    assert list(comparison(at).columns) == ["Ada Lovelace", "Alan Turing"]


def test_another_organisation_sees_none_of_it(app_env, db):
    mine, theirs = make_org(db, "Acme"), make_org(db, "Globex")
    first, second = seed_completed(theirs, name="Secret One"), seed_completed(theirs, name="Secret Two")

    at = mine.open_page(COMPARE)
    assert "No candidate has completed an assessment yet" in at.info[0].value

    at = mine.open_page(COMPARE, attempts=f"{first.id},{second.id}")
    assert "2 candidates in this link are not a completed assessment of your organisation" in at.warning[0].value
    assert not at.dataframe
    assert "Secret" not in texts(at)
