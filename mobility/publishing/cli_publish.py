"""`mobility tracking publish`: print the disclosure report of a round, confirm, publish a release."""

from __future__ import annotations

import sys

from django.core.exceptions import ValidationError

from mobility.core.models import Operation, Round

from . import services

HELP = "Publish a round: print its disclosure report, confirm, create the next release version."
EXAMPLE = 'mobility tracking publish --operation "Mozambique — Cabo Delgado" --round 3 --yes'

NO_TTY = "Not published: confirm with --yes when there is no terminal to ask on."
NO_OPERATION = 'No operation named or with the slug "{name}".'
NO_ROUND = "Operation {operation} has no round {number} that can be published."


def add_arguments(parser):
    parser.add_argument("--operation", required=True, help="operation name or slug")
    parser.add_argument("--round", type=int, required=True, dest="round_number", help="round number")
    parser.add_argument(
        "--threshold", type=int, help="suppress breakdown cells below this (default from settings)"
    )
    parser.add_argument(
        "--note", default="", help="change note (required for a new version of a published round)"
    )
    parser.add_argument(
        "--source-note", default="", help='where the figures come from, e.g. "IOM DTM API v3"'
    )
    parser.add_argument("--yes", action="store_true", help="publish without asking")
    parser.add_argument("--check-only", action="store_true", help="print the disclosure report and stop")


def find_round(operation_name: str, number: int) -> Round:
    operation = (
        Operation.objects.filter(name=operation_name).first()
        or Operation.objects.filter(slug=operation_name).first()
    )
    if operation is None:
        raise ValidationError(NO_OPERATION.format(name=operation_name))
    # The newest version that is not superseded: a correction in validating wins over its original.
    round_ = (
        Round.objects.filter(operation=operation, number=number)
        .exclude(status=Round.Status.SUPERSEDED)
        .order_by("-version")
        .first()
    )
    if round_ is None:
        raise ValidationError(NO_ROUND.format(operation=operation.name, number=number))
    return round_


def handle(
    command,
    *,
    operation,
    round_number,
    threshold=None,
    note="",
    source_note="",
    yes=False,
    check_only=False,
    **options,
):
    out = command.stdout
    try:
        round_ = find_round(operation, round_number)
        refusal = "" if check_only else services.release_refusal(round=round_, change_note=note)
        if refusal:
            command.fail(refusal)
        report = services.disclosure_check(round=round_, threshold=threshold)
    except ValidationError as exc:
        command.fail(" ".join(exc.messages))
    out.write(report.as_text(limit=200))
    if check_only:
        return
    if not yes:
        stdin = sys.stdin
        if not stdin.isatty():
            command.fail(NO_TTY)
        out.write("Publish this round? [y/N] ", ending="")
        answer = stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            command.fail(services.NOT_CONFIRMED)
    try:
        release = services.release_publish(
            round=round_, threshold=threshold, change_note=note, source_note=source_note, by=None
        )
    except ValidationError as exc:
        command.fail(" ".join(exc.messages))
    cells = release.cells.count()
    out.write(
        command.style.SUCCESS(
            f"Published {release.operation.name} round {release.reporting_round} as release version "
            f"{release.version}: {cells:,} cells, {len(report.suppressed):,} suppressed."
        )
    )
