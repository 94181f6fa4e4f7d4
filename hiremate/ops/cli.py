"""``python -m hiremate``: seed demo data, create users, issue links, recompute profiles,
recount the attempt counters, simulate completed attempts, print the .env.example the settings
declare, lower-case the emails stored before that was the rule (``migrate-emails``), erase or
export one candidate's data (``erase``, ``export-candidate``), purge what is past retention
(``purge``), chain the audit entries written before chains existed (``migrate-audit``),
verify the audit log's chains (``verify-audit``), print the impact report (``impact-report``),
manage webhook endpoints (``webhook add|list|remove|redeliver``) and create, list and revoke
the REST API's keys (``api-key create|list|revoke``).

Exit codes: 0 done, 2 bad input (one line on stderr says what), 1 the
database does not answer, 3 ``verify-audit`` found an entry changed, removed
or outside its chain.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from bson import ObjectId
from pydantic import ValidationError
from pymongo.database import Database
from pymongo.errors import ConnectionFailure

from hiremate import db as dbmod
from hiremate import kits, mail
from hiremate.attempts import issue_attempt
from hiremate.auth import create_organization, create_user, password_problems
from hiremate.errors import ConfigError, Refusal, UsageError
from hiremate.ids import as_object_id
from hiremate.models import Accommodations, CandidateInfo, Category, Difficulty, Organization, Role
from hiremate.ops.demo import DEMO_ORG_SLUG, demo_password, seed_demo
from hiremate.scope import VIA_CLI, Scope
from hiremate.settings import env_example, get_settings
from hiremate.tasks import MAX_PAGE_SIZE, list_tasks
from hiremate.timeutil import iso

EXIT_OK, EXIT_UNREACHABLE, EXIT_BAD_INPUT, EXIT_TAMPERED = 0, 1, 2, 3
PROGRESS_WIDTH = 30


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not the whole usage block
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        code = args.command(args)
    except (Refusal, ConfigError) as exc:  # bad input, or a configuration to fix: exit 2
        return _fail(EXIT_BAD_INPUT, str(exc))
    except dbmod.StoreUnavailable as exc:
        return _fail(EXIT_UNREACHABLE, str(exc))
    except ConnectionFailure as exc:  # lost after the first ping
        return _fail(EXIT_UNREACHABLE, f"the database stopped answering: {exc}")
    finally:
        dbmod.stop_started_store()  # a one-off command leaves no store behind it
    return code or EXIT_OK


# ---------------------------------------------------------------- commands


def _seed_demo(args: argparse.Namespace) -> None:
    # On request, in every configuration (HIREMATE_DEMO and a URI only stop
    # `make run` from seeding by itself); the password is the data folder's.
    db = _db()
    result = seed_demo(db, demo_password(get_settings().data_dir))
    print(result)
    print(result.login_line.strip())


def _create_user(args: argparse.Namespace) -> None:
    password = _read_password()
    problems = password_problems(password, email=args.email)
    if problems:  # checked before anything is written, so a refusal leaves no trace
        raise UsageError("password too weak: " + " ".join(problems))
    db = _db()
    organization = _find_organization(db, args.org)
    if organization is None:
        organization = create_organization(db, args.org)
        _command_line(db, organization.id).audit("organization.create", "organization", organization.id)
        print(f"created organisation {organization.name!r} (slug {organization.slug})")
    user = create_user(
        db,
        email=args.email,
        full_name=args.name,
        password=password,
        organization_id=organization.id,
        role=Role(args.role),
    )
    _command_line(db, organization.id).audit("user.create", "user", user.id, role=str(user.role))
    print(f"created {user.role} {user.email} in organisation {organization.slug} (user id {user.id})")


def _issue(args: argparse.Namespace) -> None:
    if args.sample is None and (args.category or args.difficulty):
        raise UsageError("--category and --difficulty only apply with --sample")
    candidate = _candidate(args)
    if args.send_email and not mail.is_configured():
        raise UsageError(mail.NOT_CONFIGURED.replace("copy the link and send it yourself", "leave out --send-email"))
    db = _db()
    slug = args.org or DEMO_ORG_SLUG
    organization = _find_organization(db, slug)
    if organization is None:
        hint = " (run `python -m hiremate seed-demo` first)" if slug == DEMO_ORG_SLUG else ""
        raise UsageError(f"no organisation with slug {slug!r}{hint}")
    scope = _command_line(db, organization.id)
    issued = issue_attempt(
        scope,
        candidate=candidate,
        task_ids=args.task_id,
        sample=args.sample,
        category=args.category,
        difficulty=args.difficulty,
        source=kits.task_source(scope, kits.find_kit(scope, args.kit)) if args.kit else None,
        expires_days=args.expires_days,
        accommodations=_accommodations(args),
    )
    line = {
        "attempt_id": str(issued.attempt.id),
        "token": issued.token,
        "link": issued.link,
        "expires_at": iso(issued.attempt.expires_at),
    }
    if args.send_email:  # sent within seconds by a running ingest server
        mail.queue_invitation(scope, issued.attempt, issued.link)
        line["mail"] = mail.QUEUED
    print(json.dumps(line))


def _recompute(args: argparse.Namespace) -> None:
    from hiremate import profiles  # the metrics pipeline, loaded only by this command

    attempt_id = None if args.all else as_object_id(args.attempt)
    if not args.all and attempt_id is None:
        raise UsageError(f"not an attempt id: {args.attempt!r}")
    from hiremate.metrics import LATEST, VERSIONS

    # Default: each profile keeps the rule version it records (the latest
    # for an attempt without one); "latest" or a version number moves it.
    version = LATEST if args.rules == "latest" else args.rules
    if version is not None and version not in VERSIONS:
        raise UsageError(f"no rule version {version!r}; there are {', '.join(VERSIONS)} (or latest)")
    db = _db()
    if args.all:
        started = time.monotonic()
        count = profiles.recompute_all(db, progress=_progress_drawer(started), version=version)
        print(f"recomputed {count} attempt{'s' if count != 1 else ''} {_rate(count, time.monotonic() - started)}")
        return
    doc = db[dbmod.ATTEMPTS].find_one({"_id": attempt_id}, {"status": 1, "organization_id": 1})
    if doc is None:
        raise UsageError(f"no attempt with id {args.attempt}")
    computed = profiles.compute_and_store(db, attempt_id, version=version)
    if computed is None:
        raise UsageError(f"attempt {args.attempt} has not ended after starting (it is {doc['status']}): no profile yet")
    used = computed[1].version
    _command_line(db, doc["organization_id"]).audit("attempt.recomputed", "attempt", attempt_id, rules=used)
    print(f"recomputed 1 attempt (rules {used})")


def _recount(args: argparse.Namespace) -> None:
    from hiremate import attempt_counts, norms, people

    organization_id = None
    if args.organization is not None:
        organization_id = as_object_id(args.organization)
        if organization_id is None:
            raise UsageError(f"not an organisation id: {args.organization!r}")
    db = _db()
    if organization_id is not None and db[dbmod.ORGANIZATIONS].find_one({"_id": organization_id}, {"_id": 1}) is None:
        raise UsageError(f"no organisation with id {args.organization}")
    people.rebuild(db, organization_id)  # each person's newest attempt stands for them, before counting people
    result = attempt_counts.recount(db, organization_id)
    covered = norms.rebuild(db, organization_id)
    print(
        f"recounted {result.attempts} attempt{'s' if result.attempts != 1 else ''} "
        f"in {result.organizations} organisation{'s' if result.organizations != 1 else ''}; "
        f"norms rebuilt from {covered} profile{'s' if covered != 1 else ''}"
    )


def _migrate_emails(args: argparse.Namespace) -> None:
    from hiremate.ops.migrate import migrate_emails

    print(json.dumps(migrate_emails(_db()).as_json()))


def _env_example(args: argparse.Namespace) -> None:
    print(env_example(), end="")


def _simulate(args: argparse.Namespace) -> None:
    from hiremate.ops import simulate  # the metrics pipeline, loaded only by this command

    organization, scope = _organization_scope(args)
    db = scope.db
    pool = list_tasks(scope, limit=MAX_PAGE_SIZE)
    if not pool:
        raise UsageError(f"organisation {organization.slug} has no active tasks to simulate attempts over")
    seed = random.SystemRandom().randrange(2**32) if args.seed is None else args.seed
    try:
        stored = simulate.seed_completed_attempts(
            db, organization_id=organization.id, tasks=pool, count=args.count, rng=random.Random(seed)
        )
    except simulate.AlreadySeeded as exc:
        raise UsageError(f"{exc}: use another --seed") from None
    scope.audit("attempts.simulated", "organization", organization.id, attempts=len(stored), seed=seed)
    print(json.dumps({"organization": organization.slug, "attempts": len(stored), "seed": seed}))


def _erase(args: argparse.Namespace) -> None:
    from hiremate import erasure

    if not args.yes:
        raise UsageError(
            "erase removes every assessment of this candidate in the organisation, with its events, metrics, "
            "profile and reviews, for good: add --yes to confirm"
        )
    receipt = erasure.erase_candidate(_org_scope(args), args.email)
    print(json.dumps(receipt.as_json(), indent=2))


def _export_candidate(args: argparse.Namespace) -> None:
    from hiremate import erasure

    exported = erasure.export_candidate(_org_scope(args), args.email)
    text = json.dumps(exported.document, indent=2, ensure_ascii=False)
    if args.out:
        _write_private(Path(args.out), text + "\n")
        print(f"wrote {len(exported.document['attempts'])} attempt(s) to {args.out}")
    elif not args.explanation:
        print(text)
    if args.explanation:
        print(exported.explanation)


def _impact_report(args: argparse.Namespace) -> None:
    from hiremate import impact  # pandas, SciPy and Fairlearn: loaded only by this command

    period_from, period_to = impact.parse_day(args.period_from), impact.parse_day(args.period_to)
    report = impact.impact_report(
        _org_scope(args), position=args.position, period_from=period_from, period_to=period_to
    )
    if args.format == "json":
        print(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    elif args.format == "csv":
        sys.stdout.write(report.to_csv())
    else:
        sys.stdout.write(report.to_markdown())


def _purge(args: argparse.Namespace) -> None:
    from hiremate import erasure

    report = erasure.purge(_db(), dry_run=args.dry_run)
    print(json.dumps(report.as_json(), indent=2))


def _migrate_audit(args: argparse.Namespace) -> None:
    from hiremate import audit

    print(json.dumps({"chained": audit.migrate(_db())}))


def _verify_audit(args: argparse.Namespace) -> int:
    from hiremate import audit

    db = _db()
    if args.org is None:
        reports = audit.verify_all(db)
    else:
        organization = _organization_by_slug_or_id(db, args.org)
        reports = [audit.verify_chain(db, audit.chain_of(organization.id))]
        reports[0].extra["organization"] = organization.slug
    for report in reports:
        print(json.dumps(report.as_json()))
    broken = next((report.problem for report in reports if report.problem), None)
    if broken is None:
        return EXIT_OK
    print(
        f"error: audit chain {broken.chain}: entry seq {broken.seq} (_id {broken.id}): {broken.reason}",
        file=sys.stderr,
    )
    return EXIT_TAMPERED


def _api_key_create(args: argparse.Namespace) -> None:
    from hiremate import api_keys

    key, plaintext = api_keys.create(_org_scope(args), args.name, args.scope)
    # The key is shown here once: only its hash is stored.
    print(
        json.dumps({"id": key.id, "key": plaintext, "name": key.name, "access": str(key.access), "prefix": key.prefix})
    )


def _api_key_list(args: argparse.Namespace) -> None:
    from hiremate import api_keys

    for key in api_keys.list_keys(_org_scope(args)):
        print(key.model_dump_json())


def _api_key_revoke(args: argparse.Namespace) -> None:
    from hiremate import api_keys

    print(api_keys.revoke(_org_scope(args), args.id).model_dump_json())


# ---------------------------------------------------------------- helpers


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m hiremate", description="HireMate command line")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    seed = commands.add_parser(
        "seed-demo", help="create the demo organisation, its admin and the task library; print the demo login"
    )
    seed.set_defaults(command=_seed_demo)

    user = commands.add_parser("create-user", help="create a user (password from a prompt or standard input)")
    user.add_argument("--email", required=True)
    user.add_argument("--name", required=True, help="full name")
    user.add_argument("--org", required=True, help="organisation slug or name; created when missing")
    user.add_argument("--role", choices=[r.value for r in Role], default=Role.RECRUITER.value)
    user.set_defaults(command=_create_user)

    issue = commands.add_parser("issue", help="issue an assessment link; prints one JSON line")
    issue.add_argument("--candidate-name", required=True)
    issue.add_argument("--candidate-email", required=True)
    issue.add_argument("--position", default="")
    issue.add_argument("--phone")
    issue.add_argument("--resume-url")
    chosen = issue.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--task-id", nargs="+", action="extend", metavar="ID", help="task ids, in order")
    chosen.add_argument("--sample", type=_positive_int, metavar="N", help="draw N active tasks at random")
    chosen.add_argument("--kit", metavar="NAME_OR_ID", help="an assessment kit of the organisation, by name or id")
    issue.add_argument("--category", choices=[c.value for c in Category], help="with --sample")
    issue.add_argument("--difficulty", choices=[d.value for d in Difficulty], help="with --sample")
    issue.add_argument("--expires-days", type=_positive_int, metavar="N")
    timing = issue.add_mutually_exclusive_group()
    timing.add_argument(
        "--time-multiplier",
        type=float,
        metavar="X",
        help="accommodation: extra time, 1.25 to 3.0 (1.5 = half as long again)",
    )
    timing.add_argument("--untimed", action="store_true", help="accommodation: no suggested times")
    issue.add_argument(
        "--assistive-technology",
        action="store_true",
        help="accommodation: assistive technology in use (idle and away are not observed or interpreted)",
    )
    issue.add_argument("--accommodation-note", default="", metavar="TEXT", help="accommodation: a confidential note")
    issue.add_argument("--org", help="organisation slug (default: the demo organisation)")
    issue.add_argument(
        "--send-email", action="store_true", help="also email the link to the candidate (needs HIREMATE_SMTP_URL)"
    )
    issue.set_defaults(command=_issue)

    recompute = commands.add_parser("recompute", help="recompute metrics and skill profiles")
    which = recompute.add_mutually_exclusive_group(required=True)
    which.add_argument("--attempt", metavar="ID")
    which.add_argument("--all", action="store_true")
    recompute.add_argument(
        "--rules",
        metavar="VERSION",
        help=(
            "the metric rules' version, or 'latest' (default: the version each stored profile records, "
            "the latest for an attempt without one; 1.0.0 reproduces old profiles)"
        ),
    )
    recompute.set_defaults(command=_recompute)

    recount = commands.add_parser(
        "recount",
        help="rebuild the attempt counters the pages read (after a crash; run with the ingest server stopped)",
    )
    recount.add_argument("--organization", metavar="ID", help="one organisation's id (default: all)")
    recount.set_defaults(command=_recount)

    migrate = commands.add_parser(
        "migrate-emails",
        help="lower-case the emails stored before that was the rule (users, invitations, attempts, profiles); "
        "prints one JSON line of counts and the accounts that differ from another only by case",
    )
    migrate.set_defaults(command=_migrate_emails)

    example = commands.add_parser(
        "env-example", help="print .env.example: every HIREMATE_* variable, its meaning and its default"
    )
    example.set_defaults(command=_env_example)
    simulated = commands.add_parser(
        "simulate",
        help="store simulated completed attempts (events, metrics, profiles) over an organisation's active tasks; "
        "prints one JSON line",
    )
    simulated.add_argument("--org", required=True, help="organisation slug or name")
    simulated.add_argument("--count", type=_positive_int, required=True, metavar="N", help="how many attempts")
    simulated.add_argument(
        "--seed",
        type=int,
        metavar="S",
        help="the same seed gives the same candidates again, in another store (default: random; printed)",
    )
    simulated.set_defaults(command=_simulate)

    erase = commands.add_parser(
        "erase",
        help="erase every assessment of one candidate in an organisation (events, metrics, profile, reviews); "
        "prints the receipt as JSON",
    )
    erase.add_argument("--org", required=True, help="organisation slug or name")
    erase.add_argument("--email", required=True, help="the candidate's email")
    erase.add_argument("--yes", action="store_true", help="confirm: the erasure cannot be undone")
    erase.set_defaults(command=_erase)

    export = commands.add_parser(
        "export-candidate",
        help="everything stored about one candidate as one JSON document, with a plain-language explanation "
        "(an access request)",
    )
    export.add_argument("--org", required=True, help="organisation slug or name")
    export.add_argument("--email", required=True, help="the candidate's email")
    export.add_argument("--out", metavar="FILE", help="write the JSON to FILE (created 0600) instead of printing it")
    export.add_argument(
        "--explanation", action="store_true", help="print the plain-language explanation (instead of the JSON)"
    )
    export.set_defaults(command=_export_candidate)

    impacted = commands.add_parser(
        "impact-report",
        help="selection, label and scoring rates and impact ratios by sex, race/ethnicity and both "
        "(docs/impact-report.md); prints the report",
    )
    impacted.add_argument("--org", required=True, help="organisation slug or name")
    impacted.add_argument("--position", help="only this position (exactly as issued; default: all)")
    impacted.add_argument(
        "--from", dest="period_from", metavar="DATE", help="completed on or after this day (YYYY-MM-DD, org's zone)"
    )
    impacted.add_argument(
        "--to", dest="period_to", metavar="DATE", help="completed on or before this day (YYYY-MM-DD, org's zone)"
    )
    impacted.add_argument("--format", choices=("md", "csv", "json"), default="md", help="default: md (Markdown)")
    impacted.set_defaults(command=_impact_report)

    purged = commands.add_parser(
        "purge",
        help="erase attempts past each organisation's retention, expired sessions, old login throttle entries "
        "and old invitations; prints a JSON report",
    )
    purged.add_argument("--dry-run", action="store_true", help="count what would be removed, remove nothing")
    purged.set_defaults(command=_purge)

    migrate_audit = commands.add_parser(
        "migrate-audit",
        help="chain the audit entries written before the log was chained (once, at the upgrade); prints one JSON line",
    )
    migrate_audit.set_defaults(command=_migrate_audit)
    verify_audit = commands.add_parser(
        "verify-audit",
        help="verify the audit log's HMAC chains: one JSON line per chain with its head (record it elsewhere); "
        "exit 3 naming the first entry changed, removed or outside its chain",
    )
    verify_audit.add_argument("--org", help="organisation slug, name or id (default: every chain, system included)")
    verify_audit.set_defaults(command=_verify_audit)
    _add_webhook_commands(commands)

    api_key = commands.add_parser("api-key", help="create, list or revoke the REST API's keys of an organisation")
    key_commands = api_key.add_subparsers(title="api-key commands", required=True, metavar="ACTION")
    key_create = key_commands.add_parser(
        "create", help="make a key; prints one JSON line with the key (shown once: only its hash is stored)"
    )
    key_create.add_argument("--org", required=True, help="organisation slug or name")
    key_create.add_argument("--name", required=True, help="what the key is for (shown in lists and the audit log)")
    key_create.add_argument(
        "--scope", choices=("read", "write"), default="read", help="read: GET only; write: everything (default: read)"
    )
    key_create.set_defaults(command=_api_key_create)
    key_list = key_commands.add_parser("list", help="the organisation's keys, one JSON line each (never the key)")
    key_list.add_argument("--org", required=True, help="organisation slug or name")
    key_list.set_defaults(command=_api_key_list)
    key_revoke = key_commands.add_parser("revoke", help="revoke a key for good; prints it as one JSON line")
    key_revoke.add_argument("--org", required=True, help="organisation slug or name")
    key_revoke.add_argument("--id", required=True, help="the key's id (from `api-key list`)")
    key_revoke.set_defaults(command=_api_key_revoke)
    return parser


def _webhook_add(args: argparse.Namespace) -> None:
    from hiremate import webhooks

    events = [name for value in args.events or [] for name in value.split(",")]
    endpoint, secret = webhooks.add_endpoint(_org_scope(args), args.url, events)
    # The secret is printed this once: only its sealed form is stored.
    print(json.dumps({"endpoint_id": endpoint.id, "url": endpoint.url, "events": endpoint.events, "secret": secret}))


def _webhook_list(args: argparse.Namespace) -> None:
    from hiremate import webhooks

    for endpoint in webhooks.list_endpoints(_org_scope(args)):
        print(endpoint.model_dump_json())


def _webhook_remove(args: argparse.Namespace) -> None:
    from hiremate import webhooks

    removed = webhooks.remove_endpoint(_org_scope(args), args.id)
    print(json.dumps({"endpoint_id": args.id, "removed": True, "deliveries_removed": removed}))


def _webhook_redeliver(args: argparse.Namespace) -> None:
    from hiremate import webhooks

    view = webhooks.redeliver(_org_scope(args), args.delivery)
    print(json.dumps({"delivery_id": str(view.id), "webhook_id": view.msg_id, "status": view.status}))


def _add_webhook_commands(commands: argparse._SubParsersAction) -> None:
    from hiremate.webhooks import EVENT_TYPES

    webhook = commands.add_parser("webhook", help='manage webhook endpoints (docs/integrations.md "Webhooks")')
    actions = webhook.add_subparsers(title="actions", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="register an endpoint; prints one JSON line with its secret, shown once")
    add.add_argument("--org", required=True, help="organisation slug or name")
    add.add_argument("--url", required=True, help="https URL (http only for 127.0.0.1, localhost, [::1])")
    add.add_argument(
        "--events",
        nargs="+",
        metavar="EVENT",
        help=f"event types, comma- or space-separated (default: all): {', '.join(EVENT_TYPES)}",
    )
    add.set_defaults(command=_webhook_add)
    listed = actions.add_parser("list", help="the organisation's endpoints, one JSON line each (never a secret)")
    listed.add_argument("--org", required=True, help="organisation slug or name")
    listed.set_defaults(command=_webhook_list)
    remove = actions.add_parser("remove", help="remove an endpoint with its delivery log")
    remove.add_argument("--org", required=True, help="organisation slug or name")
    remove.add_argument("--id", required=True, help="the endpoint's id (webhook list)")
    remove.set_defaults(command=_webhook_remove)
    redeliver = actions.add_parser("redeliver", help="try a delivery once more, now, with the same webhook-id")
    redeliver.add_argument("--org", required=True, help="organisation slug or name")
    redeliver.add_argument("--delivery", required=True, help="the delivery's id (the app's delivery log)")
    redeliver.set_defaults(command=_webhook_redeliver)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _db() -> Database:
    return dbmod.get_db()


def _command_line(db: Database, organization_id: ObjectId) -> Scope:
    """The scope of a command: an organisation's admin rights and no user, so
    its audit entries name no actor and say ``via: "cli"`` (the dashboard
    shows "The command line")."""
    return Scope(db, organization_id, None, is_admin=True, via=VIA_CLI)


def _org_scope(args: argparse.Namespace) -> Scope:
    """The command-line scope (``_command_line``) of the organisation ``--org``
    names by slug or name; UsageError when there is none."""
    return _organization_scope(args)[1]


def _organization_scope(args: argparse.Namespace) -> tuple[Organization, Scope]:
    """``_org_scope`` with the organisation it found, for commands that print it."""
    db = _db()
    organization = _organization(db, args.org)
    return organization, _command_line(db, organization.id)


def _organization(db: Database, slug_or_name: str) -> Organization:
    organization = _find_organization(db, slug_or_name)
    if organization is None:
        raise UsageError(f"no organisation with slug or name {slug_or_name!r}")
    return organization


def _organization_by_slug_or_id(db: Database, text: str) -> Organization:
    organization_id = as_object_id(text)
    doc = db[dbmod.ORGANIZATIONS].find_one({"_id": organization_id}) if organization_id else None
    return Organization.from_doc(doc) if doc else _organization(db, text)


def _find_organization(db: Database, slug_or_name: str) -> Organization | None:
    doc = db[dbmod.ORGANIZATIONS].find_one({"slug": slug_or_name}) or db[dbmod.ORGANIZATIONS].find_one(
        {"name": slug_or_name}
    )
    return Organization.from_doc(doc) if doc else None


def _candidate(args: argparse.Namespace) -> CandidateInfo:
    try:
        return CandidateInfo(
            name=args.candidate_name.strip(),
            email=args.candidate_email,  # CandidateInfo checks it and stores it lower-case
            phone=args.phone,
            position=args.position.strip(),
            resume_url=args.resume_url,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise UsageError(f"invalid candidate: {problems}") from None


def _accommodations(args: argparse.Namespace) -> Accommodations | None:
    try:
        granted = Accommodations(
            time_multiplier=args.time_multiplier,
            untimed=args.untimed,
            assistive_technology=args.assistive_technology,
            note=args.accommodation_note.strip(),
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise UsageError(f"invalid accommodation: {problems}") from None
    return None if granted.is_empty else granted


def _read_password() -> str:
    """Twice from a prompt at a terminal; one line of standard input otherwise."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise UsageError("the passwords do not match")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise UsageError("no password given (type it at the prompt or pipe it on standard input)")
    return password


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, created 0600 (it holds a person's data); UsageError when it cannot."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def _progress_drawer(started: float) -> Callable[[int, int], None]:
    """A progress bar on standard error with the rate so far and the time left."""

    def draw(done: int, total: int) -> None:
        filled = PROGRESS_WIDTH * done // total if total else PROGRESS_WIDTH
        elapsed = time.monotonic() - started
        left = (total - done) * elapsed / done if done else 0.0
        rate = f"{done / elapsed:,.0f}/s, about {_duration(left)} left" if elapsed > 0 and done < total else ""
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (PROGRESS_WIDTH - filled)}] {done}/{total} {rate}".ljust(100))
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return draw


def _rate(count: int, seconds: float) -> str:
    """ "in 12 s (83 attempts/s)": what recompute --all reports when it ends."""
    per_second = f" ({count / seconds:,.0f} attempts/s)" if seconds > 0 and count else ""
    return f"in {_duration(seconds)}{per_second}"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _fail(code: int, message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code
