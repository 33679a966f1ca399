"""`mobility flows estimate`: estimated total flows per FMP, week or month, with 95% intervals."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError

from mobility.core.models import Operation

from .estimates import estimates_compute
from .models import FlowEstimate, FlowMonitoringPoint

HELP = (
    "Estimate the total flow per flow monitoring point, period and direction from the observed hours "
    "(stratified ratio estimator, 95% bootstrap interval; see docs/flows-estimates.md)."
)
EXAMPLE = "mobility flows estimate --operation somalia-flows --period month --from 2016-10-01 --to 2016-12-31"

OPERATION_UNKNOWN = 'No operation "{operation}"; see `mobility operations list`.'
FMP_UNKNOWN = "No flow monitoring point {code} in {operation}."
DATE_BAD = "{option} {value!r} is not a date; write YYYY-MM-DD."


def add_arguments(parser):
    parser.add_argument("--operation", required=True, help="operation slug or name")
    parser.add_argument("--period", required=True, choices=FlowEstimate.Period.values, help="week or month")
    parser.add_argument(
        "--from", dest="date_from", default="", help="first day, YYYY-MM-DD (default: first count)"
    )
    parser.add_argument("--to", dest="date_to", default="", help="last day, YYYY-MM-DD (default: last count)")
    parser.add_argument(
        "--fmp", action="append", default=[], help="only this flow monitoring point (its code); repeatable"
    )


def _date(command, option: str, value: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        command.fail(DATE_BAD.format(option=option, value=value))


def handle(command, *, operation, period, date_from="", date_to="", fmp=(), **options):
    found = (
        Operation.objects.filter(slug=operation).first() or Operation.objects.filter(name=operation).first()
    )
    if found is None:
        command.fail(OPERATION_UNKNOWN.format(operation=operation))
    start, end = _date(command, "--from", date_from), _date(command, "--to", date_to)
    fmp_ids = None
    if fmp:
        points = dict(
            FlowMonitoringPoint.objects.filter(operation=found, code__in=fmp).values_list("code", "pk")
        )
        missing = [code for code in fmp if code not in points]
        if missing:
            command.fail(FMP_UNKNOWN.format(code=", ".join(missing), operation=found.name))
        fmp_ids = list(points.values())
    try:
        written = estimates_compute(
            operation=found, period=period, date_from=start, date_to=end, fmp_ids=fmp_ids
        )
    except ValidationError as exc:
        command.fail(" ".join(exc.messages))
    rows = FlowEstimate.objects.filter(operation=found, period=period)
    if start:
        rows = rows.filter(period_end__gte=start)
    if end:
        rows = rows.filter(period_start__lte=end)
    if fmp_ids is not None:
        rows = rows.filter(fmp_id__in=fmp_ids)
    model_based = rows.exclude(method__in=["exact", "strata-ratio"]).count()
    command.stdout.write(
        command.style.SUCCESS(
            f"Wrote {written:,} {period}ly estimates for {found.name}"
            f" ({model_based:,} of them rest partly on the FMP's hour profile or an assumption: see method)."
        )
    )
