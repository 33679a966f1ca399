"""`mobility registration dedup`: find the duplicates in a CSV list, with the engine and settings the app uses.

Nothing is stored: the file is read with polars, normalised, a model is trained on the file itself
(u by random sampling, m by EM), pairs are scored and clustered, and two CSVs are written.
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .dedup import engine

HELP = (
    "Find duplicate people in a CSV list: writes id,cluster_id,match_probability_to_cluster per record "
    "(and the scored pairs with --pairs). Nothing is stored."
)
EXAMPLE = (
    "mobility registration dedup people.csv --id-column id --map given_name=first_name "
    "--map family_name=surname --map date_of_birth=dob --map sex=sex -o clusters.csv --pairs pairs.csv"
)

REQUIRED_FIELDS = ("given_name", "family_name", "date_of_birth")

FILE_MISSING = "{path} does not exist."
FILE_EMPTY = "{path} has no rows."
FILE_NOT_UTF8 = "{path} is not UTF-8 text: save it as 'CSV UTF-8' and try again."
FILE_UNREADABLE = "{path} cannot be read as CSV: {reason}"
MAP_FORMAT = "--map {value!r} is not FIELD=COLUMN (e.g. --map given_name=first_name)."
MAP_REPEATED = "--map {field} is given twice."
MAP_REQUIRED = "Map {fields}: --map given_name=COL --map family_name=COL --map date_of_birth=COL."
THRESHOLD_RANGE = "--threshold {value} is not a probability between 0 and 1 (e.g. 0.9)."
OUTPUT_IS_INPUT = "-o {path} would overwrite the input file."

OUTPUT_COLUMNS = ("id", "cluster_id", "match_probability_to_cluster")
PAIR_COLUMNS = ("id_l", "id_r", "match_probability")


def add_arguments(parser):
    parser.add_argument("file", help="the CSV list to check (UTF-8, comma, semicolon or tab separated)")
    parser.add_argument("--id-column", required=True, help="the column with each record's unique id")
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help=(
            "which column holds a field; given_name, family_name and date_of_birth are required, "
            f"the others optional: {', '.join(f for f in engine.FIELDS if f not in REQUIRED_FIELDS)}"
        ),
    )
    parser.add_argument(
        "-o", "--output", required=True, help="CSV to write: id,cluster_id,match_probability_to_cluster"
    )
    parser.add_argument(
        "--pairs", default="", help="also write the scored pairs: id_l,id_r,match_probability"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=engine.DEFAULT_THRESHOLD,
        help=f"match probability at which two records are the same person (default {engine.DEFAULT_THRESHOLD})",
    )
    parser.add_argument(
        "--backend",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="where Splink runs: duckdb on this machine (default) or spark (needs pyspark; docs/deployment.md)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _mapping(values: list[str], command) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for value in values:
        field, sep, column = value.partition("=")
        field, column = field.strip(), column.strip()
        if not sep or not field or not column:
            command.fail(MAP_FORMAT.format(value=value))
        if field not in engine.FIELDS:
            command.fail(engine.FIELD_UNKNOWN.format(field=field, fields=", ".join(engine.FIELDS)))
        if field in mapping:
            command.fail(MAP_REPEATED.format(field=field))
        mapping[field] = column
    missing = [f for f in REQUIRED_FIELDS if f not in mapping]
    if missing:
        command.fail(MAP_REQUIRED.format(fields=", ".join(missing)))
    return mapping


def _separator(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(64 * 1024).decode("utf-8", errors="replace").splitlines()
    first = head[0] if head else ""
    try:
        return csv.Sniffer().sniff(first, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_list(path: Path, command) -> pl.DataFrame:
    """The CSV as text columns (polars, the whole file at once: no row-by-row Python)."""
    if not path.is_file():
        command.fail(FILE_MISSING.format(path=path))
    try:
        frame = pl.read_csv(path, separator=_separator(path), infer_schema=False, encoding="utf8")
    except pl.exceptions.ComputeError as exc:
        if "utf-8" in str(exc).lower() or "utf8" in str(exc).lower():
            command.fail(FILE_NOT_UTF8.format(path=path))
        command.fail(FILE_UNREADABLE.format(path=path, reason=str(exc).splitlines()[0]))
    except pl.exceptions.NoDataError:
        command.fail(FILE_EMPTY.format(path=path))
    if frame.height == 0:
        command.fail(FILE_EMPTY.format(path=path))
    # A byte-order mark ("CSV UTF-8" from Excel) would stick to the first column's name.
    return frame.rename({c: c.lstrip("\ufeff").strip() for c in frame.columns})


class StageBar:
    """A rich progress bar on stderr that advances one step per engine stage."""

    def __init__(self, enabled: bool = True):
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not enabled,
        )
        self.task = None

    def __enter__(self):
        self.progress.start()
        self.task = self.progress.add_task("deduplication", total=len(engine.STAGES))
        return self

    def __call__(self, stage: str) -> None:
        done = engine.STAGES.index(stage) if stage in engine.STAGES else 0
        self.progress.update(self.task, completed=done, description=stage)

    def __exit__(self, *exc):
        if exc[0] is None:
            self.progress.update(self.task, completed=len(engine.STAGES), description="done")
        self.progress.stop()
        return False


def handle(
    command,
    *,
    file,
    id_column,
    map,  # noqa: A002 - the option's name
    output,
    pairs="",
    threshold=engine.DEFAULT_THRESHOLD,
    backend="duckdb",
    quiet=False,
    **options,
):
    path = Path(file)
    if not 0 < threshold < 1:
        command.fail(THRESHOLD_RANGE.format(value=threshold))
    mapping = _mapping(map, command)
    for out in (output, pairs):
        if out and Path(out).resolve() == path.resolve():
            command.fail(OUTPUT_IS_INPUT.format(path=out))
    frame = read_list(path, command)
    try:
        runner = engine.backend_get(backend)
    except engine.DedupInputError as exc:
        command.fail(str(exc))
    with StageBar(enabled=not quiet) as bar:
        try:
            table = engine.prepare(frame, mapping, id_column=id_column, progress=bar)
        except engine.DedupInputError as exc:
            command.fail(str(exc))
        model = engine.train(table, backend=runner, progress=bar)
        scored = engine.predict(table, model, threshold, backend=runner, progress=bar)
        clusters = engine.cluster_frame(table, scored, threshold, progress=bar)
    clusters.select(
        pl.col("unique_id").alias("id"),
        "cluster_id",
        pl.col("match_probability_to_cluster").round(4),
    ).write_csv(output)
    if pairs:
        scored.sort("match_probability", descending=True).select(
            pl.col("unique_id_l").alias("id_l"),
            pl.col("unique_id_r").alias("id_r"),
            pl.col("match_probability").round(4),
        ).write_csv(pairs)
    in_clusters = clusters.filter(pl.col("match_probability_to_cluster").is_not_null())
    command.stdout.write(
        f"{table.height} records, {clusters['cluster_id'].n_unique()} people: "
        f"{in_clusters.height} records in {in_clusters['cluster_id'].n_unique()} clusters of duplicates "
        f"(threshold {threshold}); written to {output}"
        + (f" and {scored.height} pairs to {pairs}" if pairs else "")
    )
