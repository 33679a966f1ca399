"""`mobility registration verify`: open and close verification rounds, record a verification list."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError

from mobility.registration import verification
from mobility.registration.assistance_figures import figures_csv
from mobility.registration.models import VerificationRound

from .cli_common import date_arg, file_text, operation_find, row_errors_fail, user_find

HELP = "Verification rounds: open one for a site or area, import a verification list (all or nothing), close it, print counts."
EXAMPLE = (
    'mobility registration verify import --operation mozambique-cabo-delgado --round "Site 01 — March" '
    "--user imo verification.csv"
)
ROUND_UNKNOWN = 'No verification round "{name}" in {operation}.'
LIST_REFUSED = "Nothing recorded: {count} row error(s) in {path}."


def add_arguments(parser):
    sub = parser.add_subparsers(dest="action", required=True)
    opened = sub.add_parser("open", help="open a round for one site (--site) or one area (--area)")
    opened.add_argument("--operation", required=True, help="operation slug or name")
    opened.add_argument("--name", required=True, help='the round\'s name, e.g. "Site 01 — March"')
    opened.add_argument("--site", default="", help="site code")
    opened.add_argument("--area", default="", help="area p-code (any admin level)")
    opened.add_argument("--started-on", required=True, help="first day, YYYY-MM-DD")
    opened.add_argument(
        "--user", required=True, help="recorded as this account (needs the verify capability)"
    )
    imported = sub.add_parser(
        "import",
        help="record a CSV household_reference,outcome,moved_to_pcode,verified_on[,members_present]",
    )
    imported.add_argument("file", help="the verification list (CSV, UTF-8)")
    imported.add_argument("--operation", required=True, help="operation slug or name")
    imported.add_argument("--round", required=True, dest="round_name", help="the round's name")
    imported.add_argument(
        "--user", required=True, help="recorded as this account (needs the verify capability)"
    )
    closed = sub.add_parser("close", help="close a round: it takes no more verifications")
    closed.add_argument("--operation", required=True, help="operation slug or name")
    closed.add_argument("--round", required=True, dest="round_name", help="the round's name")
    closed.add_argument(
        "--user", required=True, help="recorded as this account (needs the verify capability)"
    )
    counts = sub.add_parser(
        "counts", help="print the registry's current counts by area or site and status (CSV)"
    )
    counts.add_argument("--operation", required=True, help="operation slug or name")
    counts.add_argument("--by", choices=["admin2", "site"], default="admin2", help="admin2 (default) or site")


def _round(command, operation, name) -> VerificationRound:
    round_ = VerificationRound.objects.filter(operation=operation, name=name).first()
    if round_ is None:
        command.fail(ROUND_UNKNOWN.format(name=name, operation=operation.slug))
    return round_


def handle(command, *, action, operation, **options):
    out = command.stdout
    operation = operation_find(command, operation)
    try:
        if action == "counts":
            rows = verification.registry_counts(operation, by=options["by"])
            fields = (
                list(rows[0])
                if rows
                else ["admin1_pcode", "admin2_pcode", "status", "households", "individuals"]
            )
            out.write(figures_csv(rows, fields), ending="")
            return
        user = user_find(command, options["user"])
        if action == "open":
            round_ = verification.round_open(
                operation=operation,
                name=options["name"],
                site=options["site"] or None,
                area_pcode=options["area"],
                started_on=date_arg(command, "--started-on", options["started_on"]),
                by=user,
            )
            out.write(f'Round {round_.pk} "{round_.name}" is open for {verification.place_label(round_)}.')
        elif action == "close":
            round_ = verification.round_close(
                round=_round(command, operation, options["round_name"]), by=user
            )
            summary = verification.round_summary(round_)
            out.write(
                f'Round "{round_.name}" closed: {summary["present"]} present, {summary["moved"]} moved, '
                f"{summary['not_found']} not found, {summary['unverified']} not verified."
            )
        elif action == "import":
            round_ = _round(command, operation, options["round_name"])
            text = file_text(command, options["file"])
            try:
                rows = verification.verification_list_read(text)
                counts = verification.verification_list_record(round=round_, rows=rows, by=user)
            except verification.VerificationListInvalid as exc:
                row_errors_fail(
                    command, exc.errors, LIST_REFUSED.format(count=len(exc.errors), path=options["file"])
                )
            outcomes = ", ".join(f"{n} {k}" for k, n in sorted(counts.outcomes.items()))
            out.write(
                f'Recorded {len(rows)} verification(s) in "{round_.name}": created {counts.created}, '
                f"updated {counts.updated}, unchanged {counts.unchanged} ({outcomes or 'none'})."
            )
    except (ValidationError, PermissionDenied) as exc:
        command.fail(" ".join(getattr(exc, "messages", [str(exc)])))
