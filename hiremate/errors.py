"""Every exception HireMate raises on purpose, in one hierarchy:

    HireMateError
    ├── Refusal
    │   ├── AuthError
    │   │   ├── LoginThrottled
    │   │   └── RegistrationThrottled
    │   ├── TaskError
    │   │   ├── TaskValidationError (also ValueError)
    │   │   └── TaskNotFound (also LookupError)
    │   ├── AttemptError
    │   │   ├── AttemptNotFound
    │   │   ├── TokenAlreadyUsed
    │   │   ├── AttemptClosed
    │   │   ├── ConsentRequired
    │   │   └── SelfIdRefused
    │   ├── OrganizationError (also ValueError)
    │   ├── FormProblems (also ValueError)
    │   ├── ReportError (also ValueError)
    │   ├── ReviewError
    │   ├── ErasureError
    │   ├── MailError
    │   │   └── MailNotConfigured
    │   ├── KitError
    │   ├── ApiKeyError
    │   ├── WebhookError
    │   │   └── WebhookTargetRefused (also ValueError)
    │   ├── BulkInputError (also ValueError)
    │   ├── TicketError (also ValueError)
    │   │   ├── TicketMalformed
    │   │   ├── TicketForged
    │   │   └── TicketExpired
    │   ├── UsageError
    │   └── AlreadySeeded (also ValueError)
    ├── MailSendFailed
    ├── ConfigError (also RuntimeError)
    ├── StoreUnavailable (also RuntimeError)
    └── AuditAppendFailed (also RuntimeError)

A ``Refusal`` is the answer "no, because ..." to someone who asked for
something: bad input, a rule of the domain, a lost race. Its ``str()`` is a
message written for that person and safe to show as is (no ids of other
organisations, no stack, no configuration): the recruiter app shows it as an
error message (``recruiter.ui.refusals``), the CLI prints it and exits 2, the
ingest server answers a ``TicketError`` with 401 and its message. Nothing
else is shown that way: any other exception is a bug and keeps Streamlit's
error page (and a log line).

``MailSendFailed`` is not a refusal either: the mail drain records its
reason on the message and tries again later (or gives up).

``ConfigError`` and ``StoreUnavailable`` are not refusals: the deployment
is broken, and only its operator can fix it. The CLI and the servers report
them at start; the app shows the "database does not answer" message for
``StoreUnavailable`` (``recruiter.session.DATABASE_DOWN``) and its error
page for a ``ConfigError``. ``AuditAppendFailed`` is not a refusal either:
an action whose audit entry could not be chained fails as a whole (its
error page, a log line) rather than happen unlogged.

The classes are defined here and re-exported by the modules that raise
them (``hiremate.auth.AuthError``, ``hiremate.attempts.AttemptClosed``,
``recruiter.assessment_forms.FormProblems`` ...), so either name works.
A class also derived from ``ValueError`` or ``LookupError`` keeps that base
for callers that catch it, but pages and the CLI catch ``Refusal``: a
plain ``ValueError`` is never taken for a refusal. This module imports
nothing from HireMate, so any module may import it.
"""

from __future__ import annotations

__all__ = [
    "AlreadySeeded",
    "ApiKeyError",
    "AttemptClosed",
    "AttemptError",
    "AttemptNotFound",
    "AuditAppendFailed",
    "AuthError",
    "BulkInputError",
    "ConfigError",
    "ConsentRequired",
    "ErasureError",
    "FormProblems",
    "HireMateError",
    "KitError",
    "LoginThrottled",
    "MailError",
    "MailNotConfigured",
    "MailSendFailed",
    "OrganizationError",
    "Refusal",
    "RegistrationThrottled",
    "ReportError",
    "ReviewError",
    "SelfIdRefused",
    "StoreUnavailable",
    "TaskError",
    "TaskNotFound",
    "TaskValidationError",
    "TicketError",
    "TicketExpired",
    "TicketForged",
    "TicketMalformed",
    "TokenAlreadyUsed",
    "UsageError",
    "WebhookError",
    "WebhookTargetRefused",
]


class HireMateError(Exception):
    """The base of every exception HireMate raises on purpose."""


class Refusal(HireMateError):
    """A request refused for a reason its author can act on; ``str()`` is
    the message to show them, as is."""


# ---------------------------------------------------------------- accounts (hiremate.auth)


class AuthError(Refusal):
    """A refusal whose message is fit to show the user."""


def _wait(seconds: int) -> str:
    """A wait as a person reads it: seconds under a minute, else minutes rounded up."""
    if seconds < 60:
        seconds = max(1, seconds)
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class LoginThrottled(AuthError):
    """Too many failed logins lately for this account from this client, or
    from this client over all accounts (``hiremate.throttle``)."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"Too many failed logins. Try again in {_wait(retry_after_seconds)}.")
        self.retry_after_seconds = retry_after_seconds


class RegistrationThrottled(AuthError):
    """Too many sign-ups (new organisations, joins) from this client lately."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"Too many sign-ups from your network. Try again in {_wait(retry_after_seconds)}.")
        self.retry_after_seconds = retry_after_seconds


# ---------------------------------------------------------------- tasks (hiremate.tasks)


class TaskError(Refusal):
    """A task operation failed; the message is meant for the recruiter."""


class TaskValidationError(TaskError, ValueError):
    """The task is invalid. ``problems`` lists one readable line per field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("Invalid task: " + "; ".join(problems))


class TaskNotFound(TaskError, LookupError):
    """No task with this id in the organisation."""


# ---------------------------------------------------------------- attempts (hiremate.attempts)


class AttemptError(Refusal):
    """An attempt operation was refused; the message is meant for people."""

    code = "attempt_error"


class AttemptNotFound(AttemptError):
    code = "not_found"


class TokenAlreadyUsed(AttemptError):
    """The link already started the attempt, was re-issued, or the session key is wrong."""

    code = "token_already_used"


class AttemptClosed(AttemptError):
    """The attempt is completed, expired or locked."""

    code = "attempt_closed"


class ConsentRequired(AttemptError):
    """``start`` did not acknowledge the notice the candidate is shown now
    (``notice_version``: that notice's version, for the answer)."""

    code = "consent_required"

    def __init__(self, message: str, *, notice_version: str) -> None:
        super().__init__(message)
        self.notice_version = notice_version


class SelfIdRefused(AttemptError):
    """A self-identification that cannot be recorded: the organisation does
    not ask, the session key is not the attempt's, the attempt is not
    completed, or the answers are not valid (``hiremate.self_id``)."""

    code = "invalid_payload"


# ---------------------------------------------------------------- organisations (hiremate.organizations)


class OrganizationError(Refusal, ValueError):
    """The organisation's settings cannot be changed as asked (not an admin, a bad value)."""


# ---------------------------------------------------------------- forms (recruiter.assessment_forms)


class FormProblems(Refusal, ValueError):
    """The form cannot be used as filled in; ``problems`` has one line per field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


# ---------------------------------------------------------------- reports (hiremate.reports)


class ReportError(Refusal, ValueError):
    """This report cannot be built for what was chosen (a comparison of
    attempts that are not completed ones of the organisation, or have no
    profile yet); the message says which."""


# ---------------------------------------------------------------- reviews (hiremate.reviews)


class ReviewError(Refusal):
    """A review or a decision cannot be recorded as asked (not a completed
    assessment of the organisation with a profile, a disagreement or a
    decision without a reason, a decision recorded by someone else
    meanwhile); the message says which."""


# ---------------------------------------------------------------- erasure (hiremate.erasure)


class ErasureError(Refusal):
    """A candidate's data cannot be erased or exported as asked (not an
    admin, no candidate with that email in the organisation, a confirmation
    that does not match); the message says which."""


# ---------------------------------------------------------------- mail (hiremate.mail)


class MailError(Refusal):
    """An email cannot be queued, re-sent or templated as asked (a template
    with an unknown placeholder, an attempt that is closed, a colleague's
    invitation no longer open); the message says which."""


class MailNotConfigured(MailError):
    """This process has no mail server (HIREMATE_SMTP_URL unset): nothing is
    queued, and the app keeps copy-the-link."""


class MailSendFailed(HireMateError):
    """The mail server did not take a message (``hiremate.mail``'s sender,
    caught by its drain, never raised to callers): ``reason`` is what the
    server said (the recipient's address replaced), ``permanent`` whether
    trying again cannot help (a 5xx refusal of the recipient or the message)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


# ---------------------------------------------------------------- kits (hiremate.kits)


class KitError(Refusal):
    """An assessment kit cannot be saved, found or issued as asked (a blank
    or repeated name, no tasks, tasks deleted or made inactive since, a
    sampling rule that no longer finds enough tasks, an archived kit); the
    message says which and what to do."""


# ---------------------------------------------------------------- API keys (hiremate.api_keys)


class ApiKeyError(Refusal):
    """An API key cannot be made or revoked as asked (not an admin, a blank
    name, an unknown access, a key the organisation does not have or one
    revoked already); the message says which."""


# ---------------------------------------------------------------- webhooks (hiremate.webhooks)


class WebhookError(Refusal):
    """A webhook endpoint cannot be registered, changed or redelivered as
    asked (unknown events, an endpoint of another organisation, a delivery
    that does not exist); the message says which."""


class WebhookTargetRefused(WebhookError, ValueError):
    """A webhook URL HireMate will not call: not https (except a loopback
    receiver), credentials in it, too long, or a host that is or resolves to
    a private, loopback, link-local, multicast or reserved address (server-side
    request forgery), unless HIREMATE_WEBHOOK_ALLOW_PRIVATE allows it. Raised
    at registration; at delivery the same check is recorded as the try's error."""


# ---------------------------------------------------------------- bulk issue (recruiter.bulk_issue)


class BulkInputError(Refusal, ValueError):
    """The uploaded or pasted candidate list cannot be read at all (not
    text, no email column, too many rows); problems of single rows are
    reported per row instead."""


# ---------------------------------------------------------------- live tickets (hiremate.live_tickets)


class TicketError(Refusal, ValueError):
    """The ticket does not grant access (401)."""


class TicketMalformed(TicketError):
    pass


class TicketForged(TicketError):
    pass


class TicketExpired(TicketError):
    pass


# ---------------------------------------------------------------- command line (hiremate.ops.cli)


class UsageError(Refusal):
    """Bad input from the command line; the message says what to fix."""


# ---------------------------------------------------------------- operations


class ConfigError(HireMateError, RuntimeError):
    """The configuration cannot work; the message says which variable to fix."""


class StoreUnavailable(HireMateError, RuntimeError):
    """The database does not answer; the message says where and what to do."""


class AuditAppendFailed(HireMateError, RuntimeError):
    """An audit entry could not be chained: the chain's head kept moving
    (``hiremate.audit``). The action fails rather than go unlogged."""


class AlreadySeeded(Refusal, ValueError):
    """Simulated attempts whose ids are stored already: the same seed in the
    same store draws the same ids."""
