"""Totals straight from the count registry, to check an import at once.

``flow_totals`` reads ``FlowCount`` itself, not the summary tables, so an officer who imported a
file sees what was stored, row by row, independently of the summaries the pages read: records are
the rows counted, individuals the people in them, per FMP and direction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from django.db.models import Count, Q, Sum

from mobility.core.models import Operation
from mobility.core.tables import neutralise

from .models import FlowCount

TOTALS_HEADER = ["fmp_code", "fmp_name", "direction", "records", "individuals"]


@dataclass(frozen=True)
class TotalRow:
    fmp_code: str
    fmp_name: str
    direction: str
    records: int
    individuals: int


def flow_totals(
    *,
    country_iso3: str,
    date_from: dt.date,
    date_to: dt.date,
    fmp_code: str = "",
    operations: list[Operation] | None = None,
) -> list[TotalRow]:
    """Records and individuals per FMP and direction, over the operations of a country, dates inclusive.

    Sorted by FMP code, then direction. ``operations`` narrows to some of the country's operations.
    """
    counts = FlowCount.objects.filter(
        operation__country_iso3=country_iso3.upper(), date__gte=date_from, date__lte=date_to
    )
    if operations is not None:
        counts = counts.filter(operation__in=operations)
    if fmp_code:
        counts = counts.filter(Q(fmp__code=fmp_code) | Q(fmp__code__iexact=fmp_code))
    rows = (
        counts.values("fmp__code", "fmp__name", "direction")
        .annotate(records=Count("id"), individuals=Sum("individuals"))
        .order_by("fmp__code", "direction", "fmp__name")
    )
    return [
        TotalRow(
            fmp_code=r["fmp__code"],
            fmp_name=r["fmp__name"],
            direction=r["direction"],
            records=r["records"],
            individuals=r["individuals"] or 0,
        )
        for r in rows
    ]


def totals_csv(rows: list[TotalRow]) -> str:
    """The CSV the CLI prints: a header, then one line per FMP and direction.

    Names that a spreadsheet would run as formulas get a leading quote; a line break inside a name
    is quoted (CSV's own line ends, so it cannot start a row).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TOTALS_HEADER)
    for r in rows:
        writer.writerow(
            [neutralise(r.fmp_code), neutralise(r.fmp_name), r.direction, r.records, r.individuals]
        )
    return out.getvalue()
