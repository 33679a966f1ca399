"""`mobility flows totals`: records and individuals per FMP and direction, read from the count registry."""

from __future__ import annotations

import datetime as dt

from mobility.core.models import Operation

from .models import FlowMonitoringPoint
from .totals import flow_totals, totals_csv

HELP = (
    "Print CSV fmp_code,fmp_name,direction,records,individuals from the stored counts (to check an import)."
)
EXAMPLE = "mobility flows totals --country SOM --from 2016-10-01 --to 2016-12-31"

COUNTRY_UNKNOWN = "No operation is in {country}; the operations' countries are: {countries}."
FMP_UNKNOWN = "No flow monitoring point {code} in the {country} operations."
DATE_BAD = "{option} {value!r} is not a date; write YYYY-MM-DD."
DATES_REVERSED = "--from {date_from} is after --to {date_to}."
OPERATION_UNKNOWN = 'No operation "{operation}" in {country}.'


def _date(option: str, value: str, command) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        command.fail(DATE_BAD.format(option=option, value=value))


def add_arguments(parser):
    parser.add_argument("--country", required=True, help="ISO3 code of the country, e.g. SOM")
    parser.add_argument("--fmp", default="", help="only this flow monitoring point (its code)")
    parser.add_argument("--from", dest="date_from", required=True, help="first day, YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", required=True, help="last day (included), YYYY-MM-DD")
    parser.add_argument(
        "--operation", default="", help="only this operation (slug), when a country has several"
    )


def handle(command, *, country, date_from, date_to, fmp="", operation="", **options):
    country = country.strip().upper()
    start, end = _date("--from", date_from, command), _date("--to", date_to, command)
    if start > end:
        command.fail(DATES_REVERSED.format(date_from=start, date_to=end))
    operations = Operation.objects.filter(country_iso3=country)
    if not operations.exists():
        known = sorted(set(Operation.objects.values_list("country_iso3", flat=True)))
        command.fail(COUNTRY_UNKNOWN.format(country=country, countries=", ".join(known) or "none"))
    chosen = None
    if operation:
        chosen = list(operations.filter(slug=operation))
        if not chosen:
            command.fail(OPERATION_UNKNOWN.format(operation=operation, country=country))
    if (
        fmp
        and not FlowMonitoringPoint.objects.filter(
            operation__in=chosen or operations, code__iexact=fmp
        ).exists()
    ):
        command.fail(FMP_UNKNOWN.format(code=fmp, country=country))
    rows = flow_totals(country_iso3=country, date_from=start, date_to=end, fmp_code=fmp, operations=chosen)
    command.stdout.write(totals_csv(rows), ending="")
