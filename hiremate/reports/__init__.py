"""What recruiters read: the candidates list, one candidate's profile data,
a side-by-side comparison and CSV exports.

Every function takes a ``Scope``, so it only ever sees the user's
organisation. None of them loads a collection: lists read one page with a
projection, exports stream in batches, and skill profiles repeat the
candidate's fields so that lists and filters never join.

Frames use snake_case column names (stable for charts and CSV);
``column_label`` gives the words a page shows for each of them.

The names below are the package's public interface; its modules
(``columns``, ``candidates``, ``profile``, ``compare``, ``exports``) are
how it is laid out, and their underscored names are private to it.
"""

from hiremate.reports.answers import AnswerCard, OptionShown, answer_cards, seconds_text
from hiremate.reports.candidates import (
    ATTEMPT_ROW_PROJECTION,
    DECISION_NONE,
    MAX_ATTEMPTS_PER_EMAIL,
    MAX_PAGE_SIZE,
    AttemptSummary,
    CandidateCounts,
    attempt_summary,
    attempts_for_email,
    candidate_counts,
    candidates_page,
    completed_candidates,
    positions,
)
from hiremate.reports.columns import (
    CANDIDATE_COLUMNS,
    COLUMN_LABELS,
    COMPARE_ROWS,
    PER_TASK_COLUMNS,
    PROFILE_COLUMNS,
    PROFILE_LABEL_COLUMNS,
    RADAR_ROWS,
    TIMELINE_COLUMNS,
    column_label,
    humanize,
)
from hiremate.reports.compare import MAX_COMPARED, MIN_COMPARED, compare_csv, compare_frame
from hiremate.reports.exports import (
    CANDIDATES_CSV_COLUMNS,
    CANDIDATES_SHEET_COLUMNS,
    EVENTS_CSV_COLUMNS,
    EVENTS_SHEET_COLUMNS,
    EXPORT_BATCH_SIZE,
    PER_TASK_CSV_COLUMNS,
    PER_TASK_SHEET_COLUMNS,
    ExportStyle,
    SheetColumn,
    attempt_events_csv,
    attempt_metrics_csv,
    candidates_csv,
    events_csv,
    per_task_metrics_csv,
)
from hiremate.reports.pdf import profile_pdf
from hiremate.reports.profile import (
    NO_SCORE_STATEMENT,
    DimensionView,
    ProfileBundle,
    dimensions,
    event_name,
    per_task_frame,
    profile_bundle,
    timeline_frame,
)

__all__ = [
    "ATTEMPT_ROW_PROJECTION",
    "CANDIDATES_CSV_COLUMNS",
    "CANDIDATES_SHEET_COLUMNS",
    "CANDIDATE_COLUMNS",
    "COLUMN_LABELS",
    "COMPARE_ROWS",
    "DECISION_NONE",
    "EVENTS_CSV_COLUMNS",
    "EVENTS_SHEET_COLUMNS",
    "EXPORT_BATCH_SIZE",
    "MAX_ATTEMPTS_PER_EMAIL",
    "MAX_COMPARED",
    "MAX_PAGE_SIZE",
    "MIN_COMPARED",
    "NO_SCORE_STATEMENT",
    "PER_TASK_COLUMNS",
    "PER_TASK_CSV_COLUMNS",
    "PER_TASK_SHEET_COLUMNS",
    "PROFILE_COLUMNS",
    "PROFILE_LABEL_COLUMNS",
    "RADAR_ROWS",
    "TIMELINE_COLUMNS",
    "AnswerCard",
    "AttemptSummary",
    "CandidateCounts",
    "DimensionView",
    "ExportStyle",
    "OptionShown",
    "ProfileBundle",
    "SheetColumn",
    "answer_cards",
    "attempt_events_csv",
    "attempt_metrics_csv",
    "attempt_summary",
    "attempts_for_email",
    "candidate_counts",
    "candidates_csv",
    "candidates_page",
    "column_label",
    "compare_csv",
    "compare_frame",
    "completed_candidates",
    "dimensions",
    "event_name",
    "events_csv",
    "humanize",
    "per_task_frame",
    "per_task_metrics_csv",
    "positions",
    "profile_bundle",
    "profile_pdf",
    "seconds_text",
    "timeline_frame",
]
