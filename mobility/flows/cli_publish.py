"""`mobility flows publish`: make a period of an operation's flow data public, after the disclosure check."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError

from mobility.core.models import Operation

from .models import FlowPublication
from .publishing import COMMAND_LINE, flows_publish, flows_unpublish

HELP = (
    "Publish the flows of an operation from --from to --to: the public API and pages then show that "
    "period, with small breakdown cells suppressed. --withdraw takes a publication back."
)
EXAMPLE = (
    'mobility flows publish --operation somalia-flows --from 2016-10-01 --to 2016-12-31 --note "Q4 2016"'
)

OPERATION_UNKNOWN = 'No operation "{operation}"; see `mobility operations list`.'
DATE_BAD = "{option} {value!r} is not a date; write YYYY-MM-DD."
NO_PUBLICATION = "{operation} has no flow publication from {date_from} to {date_to} to withdraw."


def add_arguments(parser):
    parser.add_argument("--operation", required=True, help="operation slug or name")
    parser.add_argument("--from", dest="date_from", required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", required=True, help="last day (included), YYYY-MM-DD")
    parser.add_argument("--note", default="", help="what is published and why (kept with the publication)")
    parser.add_argument(
        "--withdraw", action="store_true", help="withdraw the publication of exactly these dates"
    )


def _date(command, option: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        command.fail(DATE_BAD.format(option=option, value=value))


def handle(command, *, operation, date_from, date_to, note="", withdraw=False, **options):
    found = (
        Operation.objects.filter(slug=operation).first() or Operation.objects.filter(name=operation).first()
    )
    if found is None:
        command.fail(OPERATION_UNKNOWN.format(operation=operation))
    start, end = _date(command, "--from", date_from), _date(command, "--to", date_to)
    if withdraw:
        publication = FlowPublication.objects.filter(operation=found, date_from=start, date_to=end).first()
        if publication is None:
            command.fail(NO_PUBLICATION.format(operation=found.name, date_from=start, date_to=end))
        flows_unpublish(publication=publication, by=COMMAND_LINE)
        command.stdout.write(
            command.style.SUCCESS(f"Withdrew the flows of {found.name} from {start} to {end}.")
        )
        return
    try:
        publication = flows_publish(operation=found, date_from=start, date_to=end, by=COMMAND_LINE, note=note)
    except ValidationError as exc:
        command.fail(" ".join(exc.messages))
    summary = publication.disclosure
    command.stdout.write(
        f"Disclosure check: {summary['days']:,} days, {summary['cells']:,} breakdown cells, "
        f"{summary['suppressed']:,} below {summary['threshold']} people suppressed for the public."
    )
    command.stdout.write(command.style.SUCCESS(f"Published the flows of {found.name} from {start} to {end}."))
