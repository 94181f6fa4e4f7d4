"""The seed library: realistic workplace decision scenarios, ready to use.

No option is right or wrong. Each carries a risk level and the behaviour it
expresses, so the profile describes how a candidate decides, not whether
they guessed an answer key. ``install_library`` adds the library to an
organisation once: every task is stored with its ``library_key`` under a
unique index, so running it again (or twice at once) adds nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pymongo.errors import DuplicateKeyError

from hiremate.scope import Scope
from hiremate.tasks import TaskInput, create_task

EASY = {"difficulty": "easy", "time_limit_seconds": 180, "reasoning_min_length": 20}
MEDIUM = {"difficulty": "medium", "time_limit_seconds": 240, "reasoning_min_length": 30}
HARD = {"difficulty": "hard", "time_limit_seconds": 360, "reasoning_min_length": 40}


def _option(option_id: str, text: str, risk_level: str, *tags: str) -> dict[str, Any]:
    return {"id": option_id, "text": text, "risk_level": risk_level, "behavioral_tags": list(tags)}


def _task(
    category: str,
    level: dict[str, Any],
    title: str,
    description: str,
    scenario: str,
    *options: dict[str, Any],
    **overrides: Any,
) -> dict[str, Any]:
    return {
        "category": category,
        **level,
        "title": title,
        "description": description,
        "scenario": scenario,
        "options": list(options),
        **overrides,
    }


# fmt: off
_ENTRIES: dict[str, dict[str, Any]] = {
    # ------------------------------------------------------------ problem solving
    "ps_flaky_build": _task(
        "problem_solving", EASY,
        "A build that fails now and then",
        "An intermittent test failure two days before a release.",
        "Your team's nightly build has failed three times this week on a test that passes when it is "
        "re-run. The release is planned for Friday, two days away, and you have a free afternoon.",
        _option("opt_1", "Spend the afternoon reproducing the failure and finding its root cause.", "low",
                "methodical", "thorough", "cautious"),
        _option("opt_2", "Mark the test as flaky, open a ticket for after the release and keep the schedule.",
                "high", "pragmatic", "decisive"),
        _option("opt_3", "Ask the test's author to pair with you for an hour, then decide together whether it "
                "blocks the release.", "medium", "collaborative", "escalates"),
        _option("opt_4", "Add logging around the test and let the next nightly runs collect evidence.", "medium",
                "data_driven", "experimental"),
    ),
    "ps_revenue_mismatch": _task(
        "problem_solving", MEDIUM,
        "Two reports that disagree",
        "Conflicting revenue figures the evening before a leadership meeting.",
        "The finance dashboard shows monthly revenue 4% lower than the sales team's spreadsheet. The "
        "leadership meeting that will use the number is tomorrow morning, and both teams say their "
        "figure is right.",
        _option("opt_1", "Trace ten transactions through both sources tonight to find where they diverge.", "low",
                "data_driven", "methodical"),
        _option("opt_2", "Present the finance figure with a note that sales reports a higher one under review.",
                "medium", "transparent", "pragmatic"),
        _option("opt_3", "Call a short meeting with finance and sales today to agree on one definition of "
                "revenue.", "medium", "collaborative", "escalates"),
        _option("opt_4", "Use the sales figure because it is more recent, and reconcile after the meeting.",
                "high", "decisive", "intuitive"),
    ),
    "ps_supplier_delay": _task(
        "problem_solving", MEDIUM,
        "A supplier misses a delivery",
        "A late component threatens an announced launch date.",
        "A supplier tells you a component for your product launch will arrive three weeks late. The launch "
        "date has been announced to customers. Another supplier could deliver on time at 40% higher cost, "
        "but you have never worked with them.",
        _option("opt_1", "Order from the new supplier at the higher cost to keep the announced date.", "high",
                "decisive", "customer_focused"),
        _option("opt_2", "Move the launch date and tell customers early and openly.", "low",
                "transparent", "cautious"),
        _option("opt_3", "Order a small trial batch from the new supplier while negotiating a partial early "
                "delivery with the original one.", "medium", "pragmatic", "experimental"),
        _option("opt_4", "Bring the options and their costs to your manager and let them decide.", "low",
                "escalates", "collaborative"),
    ),
    "ps_night_incident": _task(
        "problem_solving", HARD,
        "An incident at night without a runbook",
        "Checkout errors spike while the service owner is unreachable.",
        "At 23:00 you are on call when checkout errors jump to 30%. The last deployment was six hours ago. "
        "There is no runbook for this service and its owner is on a flight. Rolling back is possible, but "
        "it would also revert an urgent tax fix that went out in the same deployment.",
        _option("opt_1", "Roll back now and re-apply the tax fix separately tomorrow.", "medium",
                "decisive", "cautious"),
        _option("opt_2", "Keep the deployment, scale the service up and watch the error rate for 15 minutes.",
                "high", "experimental", "independent"),
        _option("opt_3", "Wake the engineering manager and agree on the next step before touching anything.",
                "low", "escalates", "collaborative"),
        _option("opt_4", "Read the logs to find the failing component before choosing between a rollback and a "
                "fix.", "medium", "analytical", "data_driven"),
    ),
    # ------------------------------------------------------------ communication
    "com_late_handoffs": _task(
        "communication", EASY,
        "A colleague keeps handing work over late",
        "Repeated late contributions to a shared report.",
        "A colleague has delivered their part of a shared weekly report late three times this month, which "
        "has forced you to work evenings. They seem stressed but have not said anything about it.",
        _option("opt_1", "Talk to them privately, describe the impact and ask what is getting in the way.", "low",
                "collaborative", "direct"),
        _option("opt_2", "Mention the pattern to your manager so that it is handled formally.", "medium",
                "escalates", "cautious"),
        _option("opt_3", "Quietly take over more of the report yourself to protect the deadline.", "medium",
                "independent", "accommodating"),
        _option("opt_4", "Raise it at the next team meeting so the whole team can change the process.", "high",
                "transparent", "direct"),
    ),
    "com_junior_feedback": _task(
        "communication", EASY,
        "Feedback the day before a client presentation",
        "A junior colleague asks for honest feedback with little time left.",
        "A junior colleague asks for feedback on slides they will present to a client tomorrow. The content "
        "is good but the slides are dense, and they have already spent two days on them.",
        _option("opt_1", "Tell them plainly that the slides are too dense and suggest three points per slide.",
                "medium", "direct", "decisive"),
        _option("opt_2", "Ask questions that lead them to notice the density themselves.", "low",
                "coaching", "patient"),
        _option("opt_3", "Praise the content and leave the slides alone; there is little time left.", "high",
                "supportive", "pragmatic"),
        _option("opt_4", "Offer to sit with them for an hour this evening to simplify the slides together.", "low",
                "collaborative", "supportive"),
    ),
    "com_client_delay": _task(
        "communication", MEDIUM,
        "Telling a client about a delay",
        "A promised feature slips just before the client's board review.",
        "You manage a client account. Your team found that a feature promised for next week will take a month "
        "longer. The client's quarterly review with their board is in five days, and they planned to show the "
        "feature there.",
        _option("opt_1", "Call the client today, explain the delay and offer a demo of the parts that are ready.",
                "low", "transparent", "customer_focused"),
        _option("opt_2", "Wait until you have a firm new date, then tell the client in one message.", "high",
                "reserved", "methodical"),
        _option("opt_3", "Email the news with a detailed recovery plan and ask for a call.", "medium",
                "structured", "transparent"),
        _option("opt_4", "Ask your manager to deliver the news, since the relationship is at stake.", "medium",
                "escalates", "collaborative"),
    ),
    "com_public_disagreement": _task(
        "communication", HARD,
        "Disagreeing with a senior plan in public",
        "An unrealistic timeline is about to be agreed in a large meeting.",
        "In a meeting with twenty people, the department head announces a migration plan whose timeline you "
        "believe is unrealistic, based on your team's last two projects. People are nodding, and the plan "
        "will be final at the end of the meeting.",
        _option("opt_1", "Speak up now, share the figures from your last two projects and propose a longer "
                "timeline.", "high", "direct", "data_driven"),
        _option("opt_2", "Ask a clarifying question about contingency now, then follow up privately with your "
                "figures.", "medium", "diplomatic", "analytical"),
        _option("opt_3", "Say nothing in the meeting and send the department head a written analysis afterwards.",
                "low", "cautious", "methodical"),
        _option("opt_4", "Message two colleagues to check whether they share the concern before deciding to "
                "speak.", "medium", "collaborative", "consensus_seeking"),
    ),
    # ------------------------------------------------------------ decision confidence
    "dc_team_tool": _task(
        "decision_confidence", EASY,
        "Choosing a tool for the team",
        "Two reasonable options and a deadline at the end of the week.",
        "Your team must choose a project-tracking tool by Friday. You have tried two: one is familiar to most "
        "of the team, the other has the better reporting that management asked for. Nobody feels strongly.",
        _option("opt_1", "Pick the familiar tool so the team keeps moving.", "low", "pragmatic", "decisive"),
        _option("opt_2", "Pick the tool with better reporting and run a short training session.", "medium",
                "decisive", "forward_looking"),
        _option("opt_3", "Use both for two weeks on one project each, then decide.", "medium",
                "experimental", "data_driven"),
        _option("opt_4", "Put it to a team vote.", "low", "collaborative", "consensus_seeking"),
        reasoning_required=False,
        reasoning_min_length=0,
    ),
    "dc_conflicting_advice": _task(
        "decision_confidence", MEDIUM,
        "Two experts, two answers",
        "Security and product leads want opposite things from you.",
        "You lead a small project. Your security lead says a new login feature must not ship without an "
        "external review, which takes four weeks. Your product lead says a competitor launches the same "
        "feature next week. Both wait for your decision.",
        _option("opt_1", "Ship next week to 5% of users and start the review in parallel.", "medium",
                "pragmatic", "experimental"),
        _option("opt_2", "Wait for the external review before any release.", "low", "cautious", "principled"),
        _option("opt_3", "Ship next week to everyone and schedule the review for after the launch.", "high",
                "decisive", "competitive"),
        _option("opt_4", "Ask both leads for a one-page risk assessment by tomorrow, then decide.", "low",
                "data_driven", "methodical"),
    ),
    "dc_reverse_own_decision": _task(
        "decision_confidence", HARD,
        "Reversing your own decision",
        "Mixed results from a process change you championed.",
        "Two months ago you convinced your team to adopt a new delivery process. Since then delivery is 10% "
        "faster but defects are up 15%. The team is tired of change, and your manager praised the new "
        "process in public last week.",
        _option("opt_1", "Announce a return to the old process and explain the defect figures.", "medium",
                "decisive", "transparent"),
        _option("opt_2", "Keep the process and add a quality checkpoint aimed at the defects.", "medium",
                "pragmatic", "persistent"),
        _option("opt_3", "Run one more month unchanged to see whether the defect rate settles.", "high",
                "patient", "data_driven"),
        _option("opt_4", "Share the figures with the team and decide together what to keep.", "low",
                "collaborative", "transparent"),
    ),
    # ------------------------------------------------------------ analytical thinking
    "at_survey_sample": _task(
        "analytical_thinking", EASY,
        "A better score from fewer answers",
        "A satisfaction rise measured on a much smaller sample.",
        "A customer survey shows satisfaction rising from 72% to 81% after a website redesign. Only 140 "
        "customers answered this time, against 1,200 last time, because the survey link moved to a less "
        "visible place.",
        _option("opt_1", "Report the improvement and note the smaller sample.", "medium", "pragmatic", "transparent"),
        _option("opt_2", "Call the result inconclusive and restore the old link placement to collect comparable "
                "data.", "low", "cautious", "data_driven"),
        _option("opt_3", "Compare it with other signals, such as support tickets and returns, before concluding.",
                "low", "analytical", "thorough"),
        _option("opt_4", "Celebrate with the team; the direction is clearly positive.", "high",
                "intuitive", "optimistic"),
    ),
    "at_price_test": _task(
        "analytical_thinking", MEDIUM,
        "An A/B test with one big customer",
        "A promising price test skewed by a single account.",
        "An A/B test of a new price shows 8% more revenue per visitor, but one large customer accounts for a "
        "third of the extra revenue. The test has run for 10 of its planned 14 days, and the product manager "
        "wants to roll the price out now.",
        _option("opt_1", "Recalculate the result without the large customer before deciding.", "low",
                "analytical", "data_driven"),
        _option("opt_2", "Let the test run its full 14 days as planned.", "low", "methodical", "cautious"),
        _option("opt_3", "Roll the new price out now; the signal is positive even if noisy.", "high",
                "decisive", "pragmatic"),
        _option("opt_4", "Roll it out to half of new customers only and keep measuring.", "medium",
                "experimental", "pragmatic"),
    ),
    "at_churn_causes": _task(
        "analytical_thinking", HARD,
        "Rising churn with several suspects",
        "Three changes in one quarter, one worrying trend.",
        "Monthly customer churn rose from 3% to 5% over one quarter. In the same quarter the price went up, the "
        "mobile app was redesigned and a competitor ran a discount campaign. You have raw usage logs, support "
        "tickets and answers to the cancellation survey.",
        _option("opt_1", "Segment churned customers by plan, platform and signup date to see where the rise "
                "concentrates.", "low", "analytical", "data_driven", "methodical"),
        _option("opt_2", "Read 50 cancellation answers and support tickets to form a hypothesis first.", "medium",
                "exploratory", "customer_focused"),
        _option("opt_3", "Assume the price rise is the cause and propose a discount for customers at risk.",
                "high", "decisive", "intuitive"),
        _option("opt_4", "Set up a cross-team group to examine each factor in parallel.", "medium",
                "collaborative", "delegating"),
    ),
    # ------------------------------------------------------------ speed and accuracy
    "sa_invoice_cutoff": _task(
        "speed_accuracy", EASY,
        "Invoices before the payment run",
        "Too many invoices to check fully before a cut-off.",
        "You have 40 supplier invoices to approve before the payment run closes in one hour. Checking an "
        "invoice against its purchase order normally takes about three minutes.",
        _option("opt_1", "Check every invoice fully and let the rest wait for the next run.", "low",
                "thorough", "cautious"),
        _option("opt_2", "Approve small invoices after a quick look and fully check those above a threshold.",
                "medium", "pragmatic", "prioritising"),
        _option("opt_3", "Approve all invoices from long-standing suppliers and check only the new ones.", "high",
                "fast", "intuitive"),
        _option("opt_4", "Ask a colleague to split the batch with you.", "low", "collaborative", "delegating"),
        reasoning_required=False,
        reasoning_min_length=0,
        time_limit_seconds=120,
    ),
    "sa_report_error": _task(
        "speed_accuracy", MEDIUM,
        "An error in a report already sent",
        "A wrong chart spotted minutes before a workshop.",
        "Ten minutes after sending a weekly report to 60 people, you notice that one chart uses last month's "
        "data. The conclusions in the text are not affected. You are about to run a two-hour workshop.",
        _option("opt_1", "Send a short correction with the right chart before the workshop.", "low",
                "transparent", "fast"),
        _option("opt_2", "Send a carefully corrected version after the workshop.", "medium", "methodical", "patient"),
        _option("opt_3", "Leave it: the conclusions are right and a correction adds noise.", "high",
                "pragmatic", "independent"),
        _option("opt_4", "Ask a colleague to send the correction while you run the workshop.", "medium",
                "delegating", "collaborative"),
    ),
    "sa_double_charge_fix": _task(
        "speed_accuracy", HARD,
        "A fix while customers are being charged twice",
        "Ship a quick fix now or wait for the full test run.",
        "A bug is charging some customers twice. You wrote a fix in 20 minutes, but the full test suite takes "
        "90 minutes. Every hour about 50 more customers are charged twice; refunds are possible but cost a lot "
        "of support time.",
        _option("opt_1", "Deploy the fix after running only the payment tests, which take 10 minutes.", "medium",
                "pragmatic", "decisive"),
        _option("opt_2", "Wait for the full test suite before deploying.", "low", "thorough", "cautious"),
        _option("opt_3", "Deploy immediately and watch the payment logs closely.", "high", "fast", "decisive"),
        _option("opt_4", "Switch off the affected payment method until the fully tested fix is out.", "medium",
                "cautious", "customer_focused"),
    ),
}
# fmt: on

# Validated at import: a broken library entry fails loudly, not at install time.
LIBRARY: Mapping[str, TaskInput] = MappingProxyType(
    {key: TaskInput.model_validate(entry) for key, entry in _ENTRIES.items()}
)


def install_library(scope: Scope) -> int:
    """Add every library task the organisation does not have yet; returns how many were added.

    A task's ``library_key`` is unique per organisation, so a second run, or
    two runs at once, add nothing; a task a recruiter has since edited or
    deleted is left as it is.
    """
    added = 0
    for key, task in LIBRARY.items():
        try:
            create_task(scope, task, library_key=key)
        except DuplicateKeyError:
            continue  # already installed (possibly by a concurrent run)
        added += 1
    return added
