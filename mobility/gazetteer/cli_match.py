"""`mobility gazetteer match FILE.csv`: add p-codes to a table of place names."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from django.core.exceptions import ValidationError

from mobility.core.command import RichProgress
from mobility.core.tables import TableError, read_table

from .matching import MatchStatus, matcher_for
from .services.matching import review_record

HELP = "Match place names in a CSV/XLSX file to p-codes and write them out with match_status and score."
EXAMPLE = "mobility gazetteer match idps.csv --country PAK --level 2 --name-column District --parent-column Province -o idps-pcoded.csv"
MATCH_COLUMN_MISSING = 'The file has no column "{column}"; it has: {found}.'
BATCH = 2000


def add_arguments(parser):
    parser.add_argument("file", help="CSV or XLSX with one place name per row")
    parser.add_argument(
        "--country", required=True, help="ISO3 code of the gazetteer to match against, e.g. PAK"
    )
    parser.add_argument("--level", type=int, required=True, help="admin level of the names (1, 2, 3)")
    parser.add_argument("--name-column", required=True, help="column holding the names")
    parser.add_argument(
        "--parent-column", help="column holding the parent (one level up): a p-code or a name"
    )
    parser.add_argument("-o", "--output", required=True, help="CSV file to write")
    parser.add_argument(
        "--no-review", action="store_true", help="do not add undecided names to the review list"
    )


def handle(
    command, *, file, country, level, name_column, parent_column=None, output, no_review=False, **options
):
    try:
        matcher = matcher_for(country, level)
        table = read_table(Path(file), expected=[c for c in (name_column, parent_column) if c])
    except (ValidationError, TableError) as exc:
        command.fail("; ".join(getattr(exc, "messages", [str(exc)])))
    for column in (name_column, parent_column):
        if column and column not in table.columns:
            command.fail(MATCH_COLUMN_MISSING.format(column=column, found=", ".join(table.columns)))
    added = [f"admin{n}_code" for n in range(1, matcher.level + 1)] + [
        "match_status",
        "match_score",
        "matched_name",
    ]
    out_columns = table.columns + [c for c in added if c not in table.columns]
    counts: Counter = Counter()
    progress = RichProgress(enabled=options.get("verbosity", 1) > 0)
    progress.start(table.total_rows, f"matching {Path(file).name}")
    pending = []
    with open(output, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=out_columns, extrasaction="ignore")
        writer.writeheader()
        for _, values in table:
            result = matcher.match(
                values.get(name_column, ""), parent=values.get(parent_column) if parent_column else None
            )
            counts[str(result.status)] += 1
            writer.writerow({**values, **result.row()})
            if not no_review and result.needs_review:
                pending.append(result)
            progress.advance()
    progress.finish()
    recorded = 0
    for start in range(0, len(pending), BATCH):
        recorded += review_record(results=pending[start : start + BATCH], country_iso3=matcher.country_iso3)
    total = sum(counts.values())
    command.stdout.write(
        f"{total} names matched against {matcher.country_iso3} admin{matcher.level} → {output}"
    )
    for status in MatchStatus:
        command.stdout.write(f"  {status:<10} {counts.get(str(status), 0):>7}")
    if not no_review and recorded:
        command.stdout.write(f"{recorded} distinct names added to the review list")
