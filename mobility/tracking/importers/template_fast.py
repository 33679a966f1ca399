"""Column-at-a-time reading of large, clean template CSVs (polars), for ``tracking.template``.

``read_fast`` gives the same AssessmentRecords as the row-by-row reader in template.py, or None when
the file is not one it handles: too small, not a plain UTF-8 comma CSV with its header on line 1,
or anything the row reader would report or treat specially (a count polars does not read as an
integer, a negative count, an unknown group, type, country or date, a place the gazetteer does not
know, sex and age parts that do not add up, a repeated place × group row, an over-long text, a cell
with quotes, a blank or multi-line row). The caller then runs the row reader, so every message
(row, column, value, review list) stays its own.

On a clean file nothing is checked twice and nothing per cell runs in Python: texts that need the
shared parsers (group, type, date, reason, shelter, places) are mapped once per distinct value; the
only per-row Python left builds the breakdown parts (one per row, as no two rows share a part).
"""

from __future__ import annotations

import csv
import gc
import io
import logging
from collections import Counter
from contextlib import contextmanager
from itertools import repeat
from pathlib import Path

from mobility.core.tables import (
    HEADER_SCAN_ROWS,
    MAX_COUNT,
    TableError,
    _pick_header,
    _sniff_delimiter,
    check_size,
    detect_encoding,
    is_hxl_row,
    normalise_header,
)

from ..records import AssessmentRecord, BreakdownPart, FigureRecord

FAST_MIN_ROWS = 50_000  # data rows from which a CSV is read column-wise (settings.TRACKING_FAST_IMPORT_ROWS)
SOURCE_REFS_KEPT = 40  # "row N" references joined into a record's source_ref (cut at 200 chars anyway)

logger = logging.getLogger(__name__)
_ADMIN_KEYS = ("admin1_code", "admin1_name", "admin2_code", "admin2_name", "admin3_code", "admin3_name")


@contextmanager
def _gc_paused():
    """No cyclic garbage collection while a million acyclic records are made (it rescans them all, often)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Fallback(Exception):
    """The file needs the row reader."""


def _lines(path: Path) -> tuple[int, bool]:
    """(newlines in the file, whether it ends with one)."""
    count, last = 0, b""
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count, last == b"\n"


def _mapping(df, column: str, fn) -> dict:
    """{distinct text: fn(text)} for a column; a ValueError from fn means the row reader is needed."""
    out = {}
    for text in df.get_column(column).unique(maintain_order=True).to_list():
        try:
            out[text] = fn(text)
        except ValueError:
            raise _Fallback("a text the parsers refuse") from None
    return out


def read_fast(
    *,
    path: Path | str,
    columns: list[str],
    bands,
    country_iso3: str,
    round_end,
    operation_id: int,
    round_id: int,
    places,
    group_of,
    date_of,
    reason_of,
    shelter_of,
    types: frozenset,
    default_type,
    min_rows: int = FAST_MIN_ROWS,
    progress=None,
) -> tuple[list[AssessmentRecord], int] | None:
    """(records, rows read) for a clean CSV of at least ``min_rows`` rows, else None (use the row reader).

    ``places`` is template._ResolverCache over the job's PlaceResolver; on None its counters and
    review list are as they were (the row reader starts from scratch).
    """
    path = Path(path)
    if path.suffix.lower() not in {".csv", ".txt", ""}:
        return None
    try:
        check_size(path)
        newlines, ends_with_newline = _lines(path)
        data_lines = newlines - 1 if ends_with_newline else newlines
        if data_lines < max(min_rows, 1):
            return None
        if detect_encoding(path) not in ("utf-8", "utf-8-sig"):
            return None
        with path.open(encoding="utf-8", newline="") as fh:
            sample_text = fh.read(64 * 1024)
        if _sniff_delimiter(sample_text) != ",":
            return None
        sample = []
        for cells in csv.reader(io.StringIO(sample_text)):
            sample.append(cells)
            if len(sample) > HEADER_SCAN_ROWS:
                break
        expected = {normalise_header(c) for c in columns}
        if len(sample) < 2 or _pick_header(sample, expected, None) != 0 or is_hxl_row(sample[1]):
            return None
    except (TableError, OSError, csv.Error, UnicodeDecodeError):
        logger.info(
            "template %s: read row by row (not a plain UTF-8 comma CSV with its header first)", path.name
        )
        return None
    header = [normalise_header(c) or f"column_{i + 1}" for i, c in enumerate(sample[0])]
    if len(set(header)) != len(header):
        return None
    resolver = places.resolver
    saved = (Counter(resolver.kept), Counter(resolver.replaced), list(resolver.review), dict(places.seen))
    try:
        with _gc_paused():
            return _read(
                path=path,
                header=header,
                data_lines=data_lines,
                columns=columns,
                bands=bands,
                country_iso3=country_iso3,
                round_end=round_end,
                operation_id=operation_id,
                round_id=round_id,
                places=places,
                group_of=group_of,
                date_of=date_of,
                reason_of=reason_of,
                shelter_of=shelter_of,
                types=types,
                default_type=default_type,
                progress=progress,
            )
    except _Fallback as exc:
        logger.info("template %s: read row by row (%s)", path.name, exc)
    except Exception:  # a fault here must not fail an import the row reader can do
        logger.exception("template %s: column-wise reading failed; reading row by row", path.name)
    resolver.kept, resolver.replaced, resolver.review, places.seen = saved
    return None


def _read(
    *,
    path,
    header,
    data_lines,
    columns,
    bands,
    country_iso3,
    round_end,
    operation_id,
    round_id,
    places,
    group_of,
    date_of,
    reason_of,
    shelter_of,
    types,
    default_type,
    progress,
):
    import polars as pl

    labels = bands.labels()
    female_columns = [f"female_{b}" for b in labels]
    male_columns = [f"male_{b}" for b in labels]
    sadd_columns = female_columns + male_columns
    count_columns = ["households", "individuals", "males", "females", *sadd_columns, "key_informants"]
    wanted = [name for name in header if name in set(columns)]
    try:
        # Counts are parsed by polars as they are read (no text column of them is ever held): what
        # it cannot parse as a 64-bit integer ("1,234", "12.0", "n/a") goes to the row reader.
        df = pl.read_csv(
            path,
            has_header=True,
            infer_schema=False,
            new_columns=header,
            columns=wanted,
            schema_overrides={c: pl.Int64 for c in count_columns if c in wanted},
            empty_string_is_null=False,
            encoding="utf8",
            quote_char='"',
            truncate_ragged_lines=True,
        )
    except Exception:  # polars raises its own error types
        raise _Fallback("a count polars cannot read, or a file it reads otherwise") from None
    rows = df.height
    if rows != data_lines:
        raise _Fallback("blank or multi-line rows")
    if progress:
        progress.start(rows, "reading")
    texts = [c for c in df.columns if c not in count_columns]
    # Cells are stripped as the row reader strips them; only columns that need it are rewritten.
    padded = df.select(
        *(pl.col(c).is_null().any().alias(f"null:{c}") for c in texts),
        *(pl.col(c).str.contains(r"^\s|\s$").any().alias(f"space:{c}") for c in texts),
    ).row(0, named=True)
    rewrite = [c for c in texts if padded[f"null:{c}"] or padded[f"space:{c}"]]
    if rewrite:
        df = df.with_columns(pl.col(c).fill_null("").str.strip_chars() for c in rewrite)
    df = df.with_columns(
        *(pl.lit("").alias(c) for c in columns if c not in df.columns and c not in count_columns),
        *(pl.lit(None, dtype=pl.Int64).alias(c) for c in count_columns if c not in df.columns),
    )
    texts = [c for c in df.columns if c not in count_columns]
    long_texts = {
        "displacement_reason": 200,
        "origin_admin1_code": 32,
        "origin_admin2_code": 32,
        "admin1_name": 200,
        "admin2_name": 200,
        "admin3_name": 200,
        "site_name": 200,
        "site_code": 64,
    }
    checks = df.select(
        *(pl.col(c).min().fill_null(0).ge(0).alias(f"sign:{c}") for c in count_columns),
        *(pl.col(c).max().fill_null(0).le(MAX_COUNT).alias(f"size:{c}") for c in count_columns),
        pl.col("individuals").is_not_null().all().alias("individuals"),
        *(pl.col(c).str.len_chars().max().le(n).alias(f"len:{c}") for c, n in long_texts.items()),
        # Quotes left inside a cell and the control characters Python strips but polars does not:
        # the two CSV readers could disagree on such cells, so the row reader takes them.
        *(pl.col(c).str.contains(r'["\x1c-\x1f]').not_().all().alias(f"plain:{c}") for c in texts),
    ).row(0)
    if not all(checks):
        raise _Fallback("a negative or too large count, a blank individuals or an over-long text")

    # Texts mapped once per distinct value with the row reader's own functions.
    groups = _mapping(df, "population_group", group_of)
    if None in groups.values():
        raise _Fallback("an unknown population group")
    atypes = _mapping(df, "assessment_type", lambda t: t.upper() or default_type)
    if any(v not in types for v in atypes.values()):
        raise _Fallback("an unknown assessment type")
    countries = _mapping(df, "location_code", str.upper)
    if any(v and v != country_iso3 for v in countries.values()):
        raise _Fallback("another country")
    dates = _mapping(df, "reporting_date", lambda t: date_of(t) or round_end)
    has_part = (
        (pl.col("displacement_reason") != "")
        | (pl.col("origin_admin1_code") != "")
        | (pl.col("origin_admin2_code") != "")
    )
    # (select before filter: a filter copies every column of the frame it is given)
    reasons = _mapping(
        df.select("displacement_reason", "origin_admin1_code", "origin_admin2_code").filter(has_part),
        "displacement_reason",
        reason_of,
    )
    shelters = _mapping(
        df.select("shelter_type").filter(pl.col("shelter_type") != ""), "shelter_type", shelter_of
    )
    # The records keep the row reader's values (the type may be the enum member), keyed by text here.
    atype_value = {str(v): v for v in atypes.values()}

    depth = (
        pl.when((pl.col("admin3_code") != "") | (pl.col("admin3_name") != ""))
        .then(3)
        .when((pl.col("admin2_code") != "") | (pl.col("admin2_name") != ""))
        .then(2)
        .when((pl.col("admin1_code") != "") | (pl.col("admin1_name") != ""))
        .then(1)
        .otherwise(0)
        .cast(pl.Int8)
    )
    df = df.with_columns(
        depth.alias("_depth"),
        pl.col("population_group").replace_strict(groups, return_dtype=pl.String).alias("_group"),
        pl.col("assessment_type")
        .replace_strict({k: str(v) for k, v in atypes.items()}, return_dtype=pl.String)
        .alias("_type"),
    )
    if df.select(((pl.col("_depth") == 0) & (pl.col("site_code") == "")).any()).item():
        raise _Fallback("a row without a place")

    # Places: each distinct set of admin columns resolved once, in the order rows first show it;
    # the resolver's counters grow as if every row had been resolved (the warnings count rows).
    distinct = df.group_by(["_depth", *_ADMIN_KEYS], maintain_order=True).agg(pl.len().alias("_n"))
    resolver = places.resolver
    resolved = {"a1": [], "a2": [], "a3": [], "code": []}
    for d, *admin, n in distinct.iter_rows():
        values = dict(zip(_ADMIN_KEYS, admin, strict=True))
        if d:
            codes, problems = places.resolve(values, d)
            if problems:
                raise _Fallback("a place the gazetteer does not know")
            _codes, _problems, kept, replaced, review = places.seen[(d, *admin)]
            if review:
                raise _Fallback("a place name to review")
            # resolve counted the first row; the other n - 1 rows are counted here.
            for key, value in kept.items():
                resolver.kept[key] += value * (n - 1)
            for key, value in replaced.items():
                resolver.replaced[key] += value * (n - 1)
        else:
            codes = {}
        resolved["a1"].append(codes.get("admin1_code", ""))
        resolved["a2"].append(codes.get("admin2_code", ""))
        resolved["a3"].append(codes.get("admin3_code", ""))
        resolved["code"].append(codes.get(f"admin{d}_code", ""))
    distinct = distinct.drop("_n").with_columns(
        pl.Series("_a1", resolved["a1"], dtype=pl.String),
        pl.Series("_a2", resolved["a2"], dtype=pl.String),
        pl.Series("_a3", resolved["a3"], dtype=pl.String),
        pl.Series("_code", resolved["code"], dtype=pl.String),
    )
    # Joined on the key columns alone, then set beside them (a join copies every column it carries).
    place_keys = ["_depth", *_ADMIN_KEYS]
    found = df.select(place_keys).join(distinct, on=place_keys, how="left", maintain_order="left")
    df = df.hstack(found.select("_a1", "_a2", "_a3", "_code"))
    del found
    df = df.with_columns(
        pl.when(pl.col("site_code") != "")
        .then(pl.col("site_code"))
        .otherwise(pl.col("_code"))
        .alias("_place")
    )
    if df.select(pl.col("_place").str.len_chars().max()).item() > 64:
        raise _Fallback("a place key over 64 characters")

    # Sex and age parts: the same rules as Sadd.problems, on whole columns.
    any_part = pl.any_horizontal(pl.col(c).is_not_null() for c in sadd_columns)
    complete = pl.all_horizontal(pl.col(c).is_not_null() for c in sadd_columns)
    parts_sum = pl.sum_horizontal(sadd_columns)
    bad = any_part & (
        (complete & (parts_sum != pl.col("individuals"))) | (~complete & (parts_sum > pl.col("individuals")))
    )
    if df.select(bad.any()).item():
        raise _Fallback("sex and age parts that do not add up")
    derive = any_part & complete & pl.col("males").is_null() & pl.col("females").is_null()
    df = df.with_columns(
        any_part.alias("_sadd"),
        has_part.alias("_part"),
        pl.when(derive).then(pl.sum_horizontal(male_columns)).otherwise(pl.col("males")).alias("males"),
        pl.when(derive).then(pl.sum_horizontal(female_columns)).otherwise(pl.col("females")).alias("females"),
        (pl.int_range(pl.len(), dtype=pl.Int64) + 2).alias("_row"),
    )

    # A place × group row repeated (even identically) goes to the row reader, which reports it.
    part_key = [
        "_type",
        "_place",
        "_group",
        "displacement_reason",
        "origin_admin1_code",
        "origin_admin2_code",
    ]
    if df.select(pl.struct(part_key).is_duplicated().any()).item():
        raise _Fallback("a repeated place × group row")

    # Records: the first row of each place gives its fields; source_ref lists its rows.
    record_key = ["_type", "_place"]
    record_rows = df.group_by(record_key, maintain_order=True).agg(
        pl.col("_depth").first(),
        pl.col("reporting_date").first(),
        pl.col("_a1").first(),
        pl.col("_a2").first(),
        pl.col("_a3").first(),
        pl.col("site_code").first(),
        pl.col("admin1_name").first(),
        pl.col("admin2_name").first(),
        pl.col("admin3_name").first(),
        pl.col("site_name").first(),
        pl.col("key_informants").first(),
        pl.col("_row").head(SOURCE_REFS_KEPT),
    )
    records: dict[tuple, AssessmentRecord] = {}
    for (
        atype,
        place,
        d,
        date_text,
        a1,
        a2,
        a3,
        site,
        n1,
        n2,
        n3,
        sname,
        ki,
        numbers,
    ) in record_rows.iter_rows():
        records[(atype, place)] = AssessmentRecord(
            operation_id=operation_id,
            round_id=round_id,
            assessment_type=atype_value[atype],
            place_key=place,
            country_iso3=country_iso3,
            admin_level=d,
            reporting_date=dates[date_text],
            admin1_code=a1,
            admin2_code=a2,
            admin3_code=a3,
            location_id=resolver.location_id(site) if site else None,
            provider_admin1_name=n1,
            provider_admin2_name=n2,
            provider_admin3_name=n3,
            provider_location_name=sname,
            key_informants=ki,
            source="template",
            source_ref=",".join(f"row {n}" for n in numbers)[:200],
            first_row=numbers[0],
        )
    del record_rows

    # Figures: split rows summed once (a sum stays unknown when any row leaves it blank).
    def known_sum(column, rows=None):
        c = pl.col(column) if rows is None else pl.col(column).filter(rows)
        return pl.when(c.null_count() == 0).then(c.sum()).otherwise(None)

    figure_key = ["_type", "_place", "_group"]
    figure_rows = df.group_by(figure_key, maintain_order=True).agg(
        pl.col("individuals").sum(),
        known_sum("households"),
        known_sum("males"),
        known_sum("females"),
        pl.col("_sadd").any(),
        *(known_sum(c, pl.col("_sadd")) for c in sadd_columns),
    )
    figures: list[FigureRecord] = []
    for (
        atype,
        place,
        group,
        individuals,
        households,
        males,
        females,
        with_sadd,
        *sadd,
    ) in figure_rows.iter_rows():
        figure = FigureRecord(
            population_group=group,
            individuals=individuals,
            households=households,
            males=males,
            females=females,
            sadd=dict(zip(sadd_columns, sadd, strict=True)) if with_sadd else {},
        )
        records[(atype, place)].figures[group] = figure
        figures.append(figure)
    del figure_rows
    figure_index = (
        df.select(figure_key).unique(maintain_order=True).with_row_index("_figure", offset=0)
    )  # same order as figure_rows
    found = df.select(figure_key).join(figure_index, on=figure_key, how="left", maintain_order="left")
    df = df.hstack(found.select("_figure"))
    del found
    del figure_index

    with_shelter = df.select("_figure", "shelter_type", "individuals").filter(pl.col("shelter_type") != "")
    if with_shelter.height:
        with_shelter = with_shelter.with_columns(
            pl.col("shelter_type").replace_strict(shelters, return_dtype=pl.String).alias("_shelter")
        )
        for f, shelter, individuals in (
            with_shelter.group_by(["_figure", "_shelter"], maintain_order=True)
            .agg(pl.col("individuals").sum())
            .iter_rows()
        ):
            figures[f].shelter[shelter] = individuals
    del with_shelter

    # Parts: one per row (no two rows share a part key, checked above), in row order. Texts travel
    # as indexes into their distinct values, so a million parts share a few hundred strings.
    parts = df.select(
        "_figure",
        "displacement_reason",
        "origin_admin1_code",
        "origin_admin2_code",
        "individuals",
        "households",
        "males",
        "females",
        "_row",
        "_part",
    ).filter(pl.col("_part"))
    del df
    texts: dict[str, list[str]] = {}
    for c in ("displacement_reason", "origin_admin1_code", "origin_admin2_code"):
        texts[c] = parts.get_column(c).unique(maintain_order=True).to_list()
        index = {t: i for i, t in enumerate(texts[c])}
        parts = parts.with_columns(pl.col(c).replace_strict(index, return_dtype=pl.UInt32))
    parts = parts.select(
        "_figure",
        "displacement_reason",
        "origin_admin1_code",
        "origin_admin2_code",
        "individuals",
        "households",
        "males",
        "females",
        "_row",
    )
    # Sorted by figure (stable: rows keep their order), the parts are made in one C-level map and
    # each figure takes its slice.
    parts = parts.sort("_figure", maintain_order=True)
    sizes = parts.group_by("_figure", maintain_order=True).len().iter_rows()
    reason_texts = texts["displacement_reason"]
    reason_values = [reasons[t] for t in reason_texts]
    reason_codes = parts.get_column("displacement_reason").to_list()
    made = list(
        map(
            BreakdownPart,
            map(reason_values.__getitem__, reason_codes),
            parts.get_column("individuals").to_list(),
            repeat(""),
            map(reason_texts.__getitem__, reason_codes),
            map(texts["origin_admin1_code"].__getitem__, parts.get_column("origin_admin1_code").to_list()),
            repeat(""),
            map(texts["origin_admin2_code"].__getitem__, parts.get_column("origin_admin2_code").to_list()),
            repeat(""),
            parts.get_column("households").to_list(),
            parts.get_column("males").to_list(),
            parts.get_column("females").to_list(),
            map("row {}".format, parts.get_column("_row").to_list()),
        )
    )
    del reason_codes
    at = 0
    for f, n in sizes:
        figures[f].parts = made[at : at + n]
        at += n
    del made
    del parts
    if progress:
        progress.advance(rows)
    return list(records.values()), rows
