"""Bulk issue, without Streamlit: a candidate list (an uploaded CSV or rows
pasted from a spreadsheet) read forgivingly, checked row by row, issued with
one assessment kit in batches, and the links that were not emailed as a safe
CSV.

Reading: UTF-8 (with or without a byte-order mark) or Windows-1252 text;
comma, semicolon or tab separated. A first row naming an email column is a
header, matched forgivingly ("Name", "Full name", "E-mail", "Email address",
"Job title", "Mobile" ...); without one, columns are name, email, position,
phone in that order. Blank lines are skipped.

Checking (``preview``): each row gets the issuing form's own checks
(``assessment_forms.candidate_info``: name required, a valid email, a
plausible phone); an email that appears earlier in the list is a problem of
the later row; an email that already has a pending or running assessment in
the organisation is a warning only (the row is issued). A blank position
takes the kit's.

Issuing (``issue``): every row without problems, with one
``attempts.issue_many`` (batched inserts, counters and audit), then one call
of ``send`` with all of them. ``send`` is the mail hook
(``queue_invitations`` below, when the recruiter chose email): it returns
the ids of the attempts whose invitation it queued. Without it every link
goes into the download (``links_csv``), and so does each link it did not
queue, also when it failed: the attempts are issued already.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from bson import ObjectId

from hiremate import attempts, kits, mail
from hiremate.csvsafe import CsvWriter
from hiremate.emails import normalise
from hiremate.errors import BulkInputError, FormProblems
from hiremate.models import AssessmentKit, CandidateInfo
from hiremate.scope import Scope
from recruiter import assessment_forms

log = logging.getLogger(__name__)

MAX_ROWS = 2000
MAX_BYTES = 2_000_000
COLUMNS = ("name", "email", "position", "phone")
# Header cells as written, lower-cased with anything not a letter or digit as one space.
HEADER_ALIASES = {
    "name": {"name", "full name", "fullname", "candidate", "candidate name", "first and last name"},
    "email": {"email", "e mail", "email address", "e mail address", "mail", "candidate email", "emailaddress"},
    "position": {"position", "role", "job", "job title", "title", "vacancy", "applied for"},
    "phone": {"phone", "phone number", "telephone", "tel", "mobile", "mobile phone", "cell"},
}

SendHook = Callable[[Scope, Sequence[attempts.IssuedAttempt]], Collection[ObjectId]]
"""Queue the invitations of the issued attempts; the ids of those that will be emailed."""


@dataclass
class BulkRow:
    line: int  # the row's number as a spreadsheet shows it (the header is line 1)
    name: str
    email: str
    position: str = ""
    phone: str = ""
    problems: list[str] = field(default_factory=list)  # the row is not issued
    warnings: list[str] = field(default_factory=list)  # the row is issued
    candidate: CandidateInfo | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class BulkPreview:
    rows: list[BulkRow]
    kit: AssessmentKit

    @property
    def ready(self) -> list[BulkRow]:
        return [row for row in self.rows if row.ok]

    @property
    def refused(self) -> list[BulkRow]:
        return [row for row in self.rows if not row.ok]

    @property
    def warned(self) -> list[BulkRow]:
        return [row for row in self.rows if row.ok and row.warnings]


@dataclass(frozen=True)
class BulkResult:
    issued: list[tuple[BulkRow, attempts.IssuedAttempt, bool]]  # (row, attempt, emailed)
    refused: list[BulkRow]

    @property
    def not_emailed(self) -> list[tuple[BulkRow, attempts.IssuedAttempt]]:
        return [(row, issued) for row, issued, emailed in self.issued if not emailed]


# ---------------------------------------------------------------- reading


def decode(data: bytes) -> str:
    """An uploaded file's text (UTF-8, else Windows-1252); BulkInputError when it is not text."""
    if len(data) > MAX_BYTES:
        raise BulkInputError(f"The file is larger than {MAX_BYTES // 1_000_000} MB: split it.")
    if b"\x00" in data:
        raise BulkInputError("This file is not a CSV or text file (save the spreadsheet as CSV first).")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def parse(text: str) -> list[BulkRow]:
    """The rows of a CSV or of pasted rows, unchecked; BulkInputError when
    there are none, too many, or a header without an email column."""
    lines = [line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    records = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=_delimiter(lines)))
    numbered = [(number, [c.strip() for c in record]) for number, record in enumerate(records, 1)]
    numbered = [(number, cells) for number, cells in numbered if any(cells)]
    if not numbered:
        raise BulkInputError("There are no rows: upload a CSV or paste rows (name, email, position, phone).")
    columns = _header(numbered[0][1])
    if columns is not None:
        numbered = numbered[1:]
    elif any(_key(cell) in HEADER_ALIASES["name"] for cell in numbered[0][1]):
        raise BulkInputError("The first row looks like a header but has no email column (“Email” or “E-mail”).")
    else:
        columns = {name: index for index, name in enumerate(COLUMNS)}
    if len(numbered) > MAX_ROWS:
        raise BulkInputError(f"{len(numbered)} rows is more than {MAX_ROWS} at once: split the list.")

    def cell(cells: list[str], name: str) -> str:
        index = columns.get(name)
        return cells[index] if index is not None and index < len(cells) else ""

    return [BulkRow(number, *(cell(cells, name) for name in COLUMNS)) for number, cells in numbered]


# ---------------------------------------------------------------- checking and issuing


def preview(scope: Scope, text: str, kit: AssessmentKit) -> BulkPreview:
    """The rows of ``text`` checked for issuing with ``kit`` (refused at
    once, with KitError, when the kit cannot be issued)."""
    kits.task_source(scope, kit)
    rows = parse(text)
    first_line: dict[str, int] = {}
    for row in rows:
        try:
            row.candidate = assessment_forms.candidate_info(
                name=row.name, email=row.email, phone=row.phone, position=row.position or kit.position
            )
        except FormProblems as error:
            row.problems.extend(error.problems)
        email = normalise(row.email)
        if email and email in first_line:
            row.problems.append(f"Email: the same as line {first_line[email]}")
        elif email:
            first_line[email] = row.line
    open_emails = attempts.open_attempt_emails(scope, [r.candidate.email for r in rows if r.ok and r.candidate])
    for row in rows:
        if row.ok and row.candidate and row.candidate.email in open_emails:
            row.warnings.append("already has an open assessment (a second one will be issued)")
    return BulkPreview(rows, kit)


def issue(
    scope: Scope,
    checked: BulkPreview,
    *,
    expires_days: int | None = None,
    send: SendHook | None = None,
    public_url: str | None = None,
) -> BulkResult:
    """Issue every row without problems with the preview's kit; ``send``:
    the mail hook (module docstring), called once per issued attempt."""
    ready = checked.ready
    source = kits.task_source(scope, kits.find_kit(scope, str(checked.kit.id)))  # the kit as it is now
    issued = attempts.issue_many(
        scope,
        [attempts.NewAttempt(row.candidate) for row in ready if row.candidate is not None],
        source=source,
        expires_days=expires_days,
        public_url=public_url,
    )
    emailed = _send(send, scope, issued)
    results = [(row, one, one.attempt.id in emailed) for row, one in zip(ready, issued, strict=True)]
    scope.audit(
        "attempts.bulk_issued",
        "kit",
        checked.kit.id,
        rows=len(checked.rows),
        issued=len(results),
        refused=len(checked.refused),
        emailed=sum(emailed for _, _, emailed in results),
    )
    return BulkResult(results, checked.refused)


def links_csv(result: BulkResult) -> bytes:
    """The links not emailed, one row per candidate, safe for spreadsheets."""
    writer = CsvWriter(["Name", "Email", "Position", "Phone", "Link", "Valid until (UTC)"])
    for _, one in result.not_emailed:
        info = one.attempt.candidate_info
        until = one.attempt.expires_at.strftime("%Y-%m-%d %H:%M")  # a date a spreadsheet reads as one
        writer.writerow([info.name, info.email, info.position, info.phone, one.link, until])
    return writer.to_bytes()


def problems_csv(rows: Sequence[BulkRow]) -> bytes:
    """The rows not issued, with their problems, to fix and upload again."""
    writer = CsvWriter(["Line", "Name", "Email", "Position", "Phone", "Problems"])
    for row in rows:
        writer.writerow([row.line, row.name, row.email, row.position, row.phone, "; ".join(row.problems)])
    return writer.to_bytes()


def queue_invitations(scope: Scope, issued: Sequence[attempts.IssuedAttempt]) -> set[ObjectId]:
    """The mail hook: queue the candidates' invitations in the outbox, in one write."""
    return mail.queue_invitations(scope, [(one.attempt, one.link) for one in issued])


# ---------------------------------------------------------------- helpers


def _send(send: SendHook | None, scope: Scope, issued: Sequence[attempts.IssuedAttempt]) -> Collection[ObjectId]:
    if send is None or not issued:
        return ()
    try:
        return send(scope, issued)
    except Exception:  # the attempts are issued: their links must reach the download whatever the mailer did
        log.exception("the mail hook failed for %s attempts; their links go into the download", len(issued))
        return ()


def _key(cell: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", cell.lower()).strip()


def _header(cells: list[str]) -> dict[str, int] | None:
    """Column name -> index when ``cells`` is a header row (it names an email column)."""
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        for name, aliases in HEADER_ALIASES.items():
            if _key(cell) in aliases and name not in found:
                found[name] = index
    return found if "email" in found else None


def _delimiter(lines: list[str]) -> str:
    """Tab for rows pasted from a spreadsheet, else semicolon or comma, by the first non-blank line."""
    first = next((line for line in lines if line.strip()), "")
    counts = {sep: first.count(sep) for sep in ("\t", ";", ",")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","
