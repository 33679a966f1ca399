"""Duplicates inside an operation: the engine (``registration.dedup.engine``) run on the registry.

``dedup_run`` scores every active, unmerged individual of an operation against the others, with
the operation's saved model (trained on its own records the first time, or on ``retrain``), writes
the pairs above the review threshold as ``MatchPair`` rows and groups the records above the match
threshold into ``DedupCluster``s. ``dedup_incremental`` scores only newly registered people
against the existing ones with the saved model (no training, no full re-run); registration calls
it through ``after_households_written`` once the registration is committed.

Rules both keep:

- **Personal values stay in memory.** Records are read encrypted, decrypted into Python/polars
  objects and compared by DuckDB in memory; nothing unencrypted is written to disk. The model
  saved in ``DedupModel.settings_json`` is Splink's settings with m and u probabilities only
  (checked: no term-frequency table, no value). ``MatchPair.comparisons`` holds levels and
  weights, never values. The audit entry holds counts.
- **Decisions are remembered.** A pair a reviewer marked *not duplicate* keeps its status, is
  never offered again and its two records are never put in one cluster (not even through a third
  record). A pair marked *duplicate* (or merged) links its records whatever the model says.
- **Cluster ids are stable.** A recomputed group that holds members of existing clusters keeps
  the oldest of their ids (the smallest, as ids grow); a new ``DedupCluster`` is made only for a
  group without one. A record alone is in no cluster (``cluster`` is empty): the registry of a
  million people needs no million one-member clusters. A cluster left with no member stays as
  an empty row, so a merge undone later can put its members back.
- A re-run updates pairs, never duplicates them; undecided pairs (pending or automatic) the model
  no longer proposes are removed, decided ones are kept.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from mobility.core.models import Operation
from mobility.core.services import audit_record

from .crypto import keyring
from .models import (
    DedupCluster,
    DedupModel,
    Household,
    IdentityDocument,
    Individual,
    MatchPair,
    RecordStatus,
    RegistrationPolicy,
)

log = logging.getLogger(__name__)

Progress = Callable[[str], None]  # called with the name of each stage as it starts

# Stages of dedup_run reported to ``progress`` (the engine's own stages come in between).
STAGE_READ = "read records"
STAGE_TRAIN = "train the model"
STAGE_WRITE_PAIRS = "write pairs"
STAGE_WRITE_CLUSTERS = "write clusters"

# The engine's field → the column of the frame dedup_app builds.
MAPPING = {
    "given_name": "given_name",
    "family_name": "family_name",
    "date_of_birth": "date_of_birth",
    "birth_year": "birth_year",
    "sex": "sex",
    "document_number": "document_number",
    "phone": "phone",
    "location": "location",
}
# Which document an individual is compared on when several are held (one per type).
DOCUMENT_ORDER = [
    IdentityDocument.Type.NATIONAL_ID,
    IdentityDocument.Type.PASSPORT,
    IdentityDocument.Type.REFUGEE_ID,
    IdentityDocument.Type.BIRTH_CERTIFICATE,
    IdentityDocument.Type.VOTER_CARD,
    IdentityDocument.Type.OTHER,
]
# Splink model keys that could carry values from the records (none does today: stripped if one appears).
MODEL_VALUE_KEYS = ("term_frequency_tables", "tf_tables", "tf_lookup", "training_data", "labels")
# An incremental batch this large reads every record as candidates (the filters would keep most).
CANDIDATE_FILTER_MAX = 5000
BATCH = 2000  # rows per bulk write; above this PostgreSQL writes with COPY
CLUSTERS_READ_ALL = 20_000  # setting more clusters than this reads the operation's clustered records
PAIR_COLUMNS = (
    "operation_id",
    "left_id",
    "right_id",
    "match_probability",
    "match_weight",
    "comparisons",
    "status",
    "created_at",
    "updated_at",
)

CLUSTERS_SHORT = "new clusters: the database returned fewer ids than rows inserted"
PAIR_INVALID = "a scored pair is not ordered, or its probability or status is out of range"

UNDECIDED = (MatchPair.Status.PENDING, MatchPair.Status.AUTO)
LINKED = (MatchPair.Status.DUPLICATE, MatchPair.Status.MERGED)


@dataclass
class DedupResult:
    """What a run did (counts only: it goes to the audit log and the CLI)."""

    records: int = 0
    model_version: int | None = None
    trained: bool = False
    pairs_found: int = 0  # scored at or above the review threshold
    pairs_created: int = 0
    pairs_updated: int = 0
    pairs_removed: int = 0
    pending: int = 0  # pairs awaiting review after the run (of those found)
    auto: int = 0  # pairs matched automatically (of those found)
    decided: int = 0  # found pairs a reviewer had already decided (kept as decided)
    clusters: int = 0  # clusters with two or more active records after the run
    clusters_created: int = 0
    clustered_records: int = 0
    skipped: str = ""  # why nothing was done (incremental without a model)
    seconds: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _notify(progress: Progress | None, stage: str) -> None:
    if progress is not None:
        progress(stage)


def _thresholds(operation: Operation) -> tuple[float, float]:
    """(review_threshold, match_threshold) of the operation's policy, or the model defaults."""
    policy = RegistrationPolicy.objects.filter(operation=operation).first()
    if policy is None:
        fields = {f.name: f.default for f in RegistrationPolicy._meta.fields}
        return fields["review_threshold"], fields["match_threshold"]
    return policy.review_threshold, policy.match_threshold


# --- reading the registry (decrypted in memory only) -----------------------------------------


def _decrypt_all(tokens: list, aad: str) -> list[str]:
    """Decrypt the tokens of one column in bulk (``Keyring.decrypt_many``); empty stays empty."""
    return keyring().decrypt_many(tokens, aad)


def _rows(queryset) -> list[tuple]:
    """The rows of a values_list queryset through the cursor (without the ORM's per-row work)."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # a filter on an empty list of ids
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _field_aad(model, name: str) -> str:
    return model._meta.get_field(name).aad


def _active(operation: Operation):
    return Individual.objects.filter(
        operation=operation, status=RecordStatus.ACTIVE, merged_into__isnull=True
    )


def _read(queryset) -> tuple:
    """The engine's input frame for the individuals of ``queryset``, plus their current cluster ids.

    Encrypted columns are fetched as their tokens (a ``Cast`` skips the field's decryption), put in
    polars columns and decrypted a column at once (``Keyring.decrypt_many``); phones once per
    household; households and documents are joined in polars, not in Python loops.
    """
    import polars as pl

    rows = _rows(
        queryset.order_by("pk").values_list(
            "pk",
            Cast("given_name", TextField()),
            Cast("family_name", TextField()),
            Cast("date_of_birth", TextField()),
            "dob_estimated",
            "birth_year",
            "sex",
            "household_id",
            "cluster_id",
        )
    )
    if not rows:
        return _empty_frame(), {}
    people = pl.DataFrame(
        rows,
        schema={
            "id": pl.Int64,
            "given_name": pl.Utf8,
            "family_name": pl.Utf8,
            "date_of_birth": pl.Utf8,
            "estimated": pl.Boolean,
            "birth_year": pl.Int32,
            "sex": pl.Utf8,
            "household": pl.Int64,
            "cluster": pl.Int64,
        },
        orient="row",
        strict=False,
    )
    del rows
    # The names and dates are decrypted in a thread (AES-GCM and polars release the GIL) while this
    # one reads households and documents from the database (the connection belongs to this thread).
    decrypt = keyring().decrypt_many
    pool = ThreadPoolExecutor(max_workers=1)
    opened = pool.submit(
        lambda: [
            pl.Series(name, decrypt(people[name], _field_aad(Individual, name)), dtype=pl.Utf8)
            for name in ("given_name", "family_name", "date_of_birth")
        ]
    )
    try:
        homes, documents = _read_homes_documents(queryset)
        people = people.with_columns(opened.result())
    finally:
        pool.shutdown(wait=True)
    homes = homes.with_columns(
        pl.Series("phone", decrypt(homes["phone"], _field_aad(Household, "phone")), dtype=pl.Utf8),
        pl.col("location").fill_null(""),
    )
    documents = documents.with_columns(
        pl.Series(
            "document_number",
            decrypt(documents["document_number"], _field_aad(IdentityDocument, "number")),
            dtype=pl.Utf8,
        )
    )
    dob = pl.col("date_of_birth")
    frame = (
        people.join(homes, on="household", how="left", maintain_order="left")
        .join(documents, on="id", how="left", maintain_order="left")
        .select(
            pl.col("id").cast(pl.Utf8).alias("unique_id"),
            "given_name",
            "family_name",
            # An estimated date (a year or an age, stored as YYYY-07-01) compares as its year only.
            pl.when(pl.col("estimated") & (dob != ""))
            .then(dob.str.slice(0, 4))
            .otherwise(dob)
            .alias(dob.meta.output_name()),
            "birth_year",
            pl.when(pl.col("sex") == "u")
            .then(pl.lit(""))
            .otherwise(pl.col("sex").fill_null(""))
            .alias("sex"),
            pl.col("document_number").fill_null(""),
            pl.col("phone").fill_null(""),
            pl.col("location").fill_null(""),
        )
    )
    clustered = people.filter(pl.col("cluster").is_not_null())
    clusters = dict(zip(clustered["id"].to_list(), clustered["cluster"].to_list(), strict=True))
    return frame, clusters


def _read_homes_documents(queryset) -> tuple:
    """(households: household, phone token, location; documents: id, the token of the number of
    each person's preferred document) of the individuals of ``queryset``, as polars frames."""
    import polars as pl

    households = _rows(
        Household.objects.filter(pk__in=queryset.values("household_id")).values_list(
            "pk", Cast("phone", TextField()), "location_pcode"
        )
    )
    homes = pl.DataFrame(
        households,
        schema={"household": pl.Int64, "phone": pl.Utf8, "location": pl.Utf8},
        orient="row",
        strict=False,
    )
    del households
    docs = _rows(
        IdentityDocument.objects.filter(individual__in=queryset.values("pk")).values_list(
            "individual_id", "doc_type", Cast("number", TextField())
        )
    )
    rank = {str(t): i for i, t in enumerate(DOCUMENT_ORDER)}
    documents = (
        pl.DataFrame(
            docs,
            schema={"id": pl.Int64, "doc_type": pl.Utf8, "document_number": pl.Utf8},
            orient="row",
            strict=False,
        )
        .with_columns(
            pl.col("doc_type").replace_strict(rank, default=len(rank), return_dtype=pl.Int32).alias("rank")
        )
        .sort("id", "rank", maintain_order=True)
        .unique(subset="id", keep="first", maintain_order=True)
        .select("id", "document_number")
    )
    del docs

    return homes, documents


def _empty_frame():
    import polars as pl

    return pl.DataFrame(
        {
            "unique_id": pl.Series([], dtype=pl.Utf8),
            **{c: pl.Series([], dtype=pl.Utf8) for c in ("given_name", "family_name", "date_of_birth")},
            "birth_year": pl.Series([], dtype=pl.Int32),
            **{c: pl.Series([], dtype=pl.Utf8) for c in ("sex", "document_number", "phone", "location")},
        }
    )


# --- the model -------------------------------------------------------------------------------


def model_active(operation: Operation) -> DedupModel | None:
    """The operation's saved model used to score (the newest active version), or None."""
    return DedupModel.objects.filter(operation=operation, active=True).order_by("-version").first()


def model_clean(model: dict) -> dict:
    """The model without anything that could carry a value from the records (Splink keeps none today)."""
    return {k: v for k, v in model.items() if k not in MODEL_VALUE_KEYS}


@transaction.atomic
def _model_save(*, operation: Operation, model: dict, records: int) -> DedupModel:
    last = DedupModel.objects.select_for_update().filter(operation=operation).order_by("-version").first()
    saved = DedupModel(
        operation=operation,
        version=(last.version + 1) if last else 1,
        settings_json=model_clean(model),
        records=records,
        active=True,
    )
    saved.full_clean()
    saved.save()
    DedupModel.objects.filter(operation=operation, active=True).exclude(pk=saved.pk).update(active=False)
    return saved


# --- pairs, decisions and clusters -----------------------------------------------------------


def _ordered_pairs(pairs):
    """Pairs as (left pk, right pk) ints with left < right, best first (engine ids are text)."""
    import polars as pl

    left = pl.col("unique_id_l").cast(pl.Int64)
    right = pl.col("unique_id_r").cast(pl.Int64)
    return pairs.with_columns(
        pl.min_horizontal(left, right).alias("left"), pl.max_horizontal(left, right).alias("right")
    ).sort("match_probability", descending=True)


def _explanations(pairs, model: dict) -> list[dict]:
    """engine.explain for each pair row, computed once per distinct set of levels and weights."""
    from .dedup import engine

    columns = [c for c in pairs.columns if c.startswith(("gamma_", "mw_"))]
    if not columns:
        return [{} for _ in range(pairs.height)]
    import polars as pl

    keyed = pairs.select([pl.col(c).round(3) if c.startswith("mw_") else pl.col(c) for c in columns])
    cache: dict[tuple, dict] = {}
    out = []
    for row in keyed.iter_rows():
        explained = cache.get(row)
        if explained is None:
            explained = engine.explain(dict(zip(columns, row, strict=True)), model)
            cache[row] = explained
        out.append(explained)
    return out


class _Groups:
    """Union-find over record ids that refuses to join two records a reviewer kept apart."""

    def __init__(self, apart: Iterable[tuple[int, int]] = ()):
        self.parent: dict[int, int] = {}
        self.apart: dict[int, set[int]] = {}  # root → records its group must never hold together with
        for a, b in apart:
            self.apart.setdefault(a, set()).add(b)
            self.apart.setdefault(b, set()).add(a)

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    def _forbidden(self, ra: int, rb: int) -> bool:
        small, other = (ra, rb) if len(self.apart.get(ra, ())) <= len(self.apart.get(rb, ())) else (rb, ra)
        return any(self.find(x) == other for x in self.apart.get(small, ()))

    def union(self, a: int, b: int) -> bool:
        """Join a's and b's groups; False (nothing joined) when that would join kept-apart records."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if self._forbidden(ra, rb):
            return False
        if rb < ra:
            ra, rb = rb, ra
        self.parent[rb] = ra
        if rb in self.apart:
            self.apart.setdefault(ra, set()).update(self.apart.pop(rb))
        return True

    def groups(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for x in list(self.parent):
            out.setdefault(self.find(x), []).append(x)
        for root in list(out):
            if root not in out[root]:
                out[root].append(root)
        return out


def _stable_ids(groups: list[list[int]], current: dict[int, int]) -> tuple[list[int | None], int]:
    """The cluster id each group keeps: the oldest existing id among its members not taken by a
    larger group; None where a new cluster must be made. Returns (ids, groups needing a new one)."""
    order = sorted(range(len(groups)), key=lambda i: (-len(groups[i]), min(groups[i])))
    taken: set[int] = set()
    chosen: list[int | None] = [None] * len(groups)
    for i in order:
        existing = sorted({current[m] for m in groups[i] if m in current} - taken)
        if existing:
            chosen[i] = existing[0]
            taken.add(existing[0])
    return chosen, sum(1 for c in chosen if c is None)


@dataclass(slots=True)
class _Stored:
    """A stored MatchPair as the matching needs it (read from the cursor: no model instance)."""

    pk: int
    left_id: int
    right_id: int
    status: str
    match_probability: float
    match_weight: float
    comparisons: dict


def _decisions(operation: Operation, ids: set[int] | None = None) -> dict[tuple[int, int], _Stored]:
    """The operation's stored pairs (only those touching ``ids`` when given), by (left, right)."""
    base = MatchPair.objects.filter(operation=operation).values_list(
        "pk", "left_id", "right_id", "status", "match_probability", "match_weight", "comparisons"
    )
    if ids is None:
        chunks = [base]
    else:
        ordered = sorted(ids)
        chunks = [
            base.filter(Q(left_id__in=ordered[i : i + BATCH]) | Q(right_id__in=ordered[i : i + BATCH]))
            for i in range(0, len(ordered), BATCH)
        ]
    out: dict[tuple[int, int], _Stored] = {}
    for queryset in chunks:
        for pk, left, right, status, probability, weight, comparisons in _rows(queryset):
            if isinstance(comparisons, str | bytes):
                comparisons = json.loads(comparisons)
            out[(left, right)] = _Stored(pk, left, right, status, probability, weight, comparisons or {})
    return out


def _pairs_write(
    *,
    operation: Operation,
    rows: list[tuple[int, int, float, float, dict, str]],
    existing: dict[tuple[int, int], _Stored],
    result: DedupResult,
) -> set[tuple[int, int]]:
    """Create or update MatchPairs (left, right, probability, weight, comparisons, status for an
    undecided pair); decided pairs keep their status. Returns the keys written.

    Written with executemany (Django's bulk_create and bulk_update take ten times longer for the
    100,000 pairs of a large operation); the values are the model's, checked here, not typed in.
    """
    stamp = connection.ops.adapt_datetimefield_value(timezone.now())
    prep = MatchPair._meta.get_field("comparisons").get_db_prep_save
    # JSON text for SQLite and for PostgreSQL's COPY (what JSONField writes: json.dumps); once per
    # dict, as _explanations shares one dict per set of levels and weights
    text = connection.vendor == "sqlite" or (connection.vendor == "postgresql" and len(rows) > BATCH)
    encoded: dict[int, tuple[dict, object]] = {}
    fragments: dict[tuple, str] = {}  # json.dumps of one field's detail, by (field, its items)

    def dumps(comparisons: dict) -> str:
        """json.dumps(comparisons), built from the details of each field (they repeat a lot)."""
        parts = []
        for name, detail in comparisons.items():
            # the type too: 1, 1.0 and True are one key but three texts
            key = (name, *((k, type(v), v) for k, v in detail.items())) if isinstance(detail, dict) else None
            try:
                fragment = fragments.get(key)
            except TypeError:  # a value that is not hashable: not kept
                key, fragment = None, None
            if fragment is None:
                fragment = f"{json.dumps(name)}: {json.dumps(detail)}"
                if key is not None:
                    fragments[key] = fragment
            parts.append(fragment)
        return "{" + ", ".join(parts) + "}"

    def as_json(comparisons: dict, conn):
        held = encoded.get(id(comparisons))
        if held is None or held[0] is not comparisons:
            value = dumps(comparisons) if text else prep(comparisons, conn)
            held = encoded[id(comparisons)] = (comparisons, value)
        return held[1]

    statuses = set(MatchPair.Status.values)
    created: list[tuple] = []
    changed: list[tuple] = []
    seen: set[tuple[int, int]] = set()
    for left, right, probability, weight, comparisons, status in rows:
        if not (left < right and 0.0 <= probability <= 1.0 and status in statuses):
            raise ValueError(PAIR_INVALID)
        key = (left, right)
        seen.add(key)
        pair = existing.get(key)
        if pair is None:
            created.append(
                (
                    operation.pk,
                    left,
                    right,
                    probability,
                    weight,
                    as_json(comparisons, connection),
                    status,
                    stamp,
                    stamp,
                )
            )
            continue
        if pair.status not in UNDECIDED:
            result.decided += 1
            status = pair.status
        if (
            pair.status != status
            or abs(pair.match_probability - probability) > 1e-9
            or abs(pair.match_weight - weight) > 1e-6
            or pair.comparisons != comparisons
        ):
            changed.append((status, probability, weight, as_json(comparisons, connection), stamp, pair.pk))
    quote = connection.ops.quote_name
    table = quote(MatchPair._meta.db_table)
    insert = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 (names only)
        table,
        ", ".join(quote(c) for c in PAIR_COLUMNS),
        ", ".join(["%s"] * len(PAIR_COLUMNS)),
    )
    update = "UPDATE {} SET {} = %s, {} = %s, {} = %s, {} = %s, {} = %s WHERE {} = %s".format(  # noqa: S608
        table,
        *(
            quote(c)
            for c in ("status", "match_probability", "match_weight", "comparisons", "updated_at", "id")
        ),
    )
    created.sort(key=lambda r: (r[1], r[2]))  # in key order: the indexes are written in order
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) > BATCH:
            _copy(cursor, MatchPair._meta.db_table, PAIR_COLUMNS, created)
            created_sql = []
        else:
            created_sql = created
        for sql, values in ((insert, created_sql), (update, changed)):
            for start in range(0, len(values), 10_000):
                cursor.executemany(sql, values[start : start + 10_000])
    result.pairs_created += len(created)
    result.pairs_updated += len(changed)
    return seen


def _copy(cursor, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """PostgreSQL: rows into ``table`` with one COPY (several times faster than INSERTs)."""
    quote = connection.ops.quote_name
    sql = "COPY {} ({}) FROM STDIN".format(quote(table), ", ".join(quote(c) for c in columns))  # noqa: S608
    with cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _clusters_write(
    *,
    operation: Operation,
    assignment: dict[int, tuple[int | None, float | None]],
    result: DedupResult,
) -> None:
    """Set cluster and match_probability of the given individuals (only rows that change).

    ``updated_at`` is left alone: a cluster is derived data the matching recomputes, not a change to
    the person's record (retention counts from it, and the in-memory registry re-reads what it marks).
    """
    if len(assignment) < CLUSTERS_READ_ALL:
        rows = Individual.objects.filter(pk__in=list(assignment))
    else:  # a full run: a record not read here holds no cluster and no probability
        rows = Individual.objects.filter(operation=operation).filter(
            Q(cluster__isnull=False) | Q(match_probability__isnull=False)
        )
    stored = {
        pk: (cluster, p)
        for pk, cluster, p in _rows(rows.values_list("pk", "cluster_id", "match_probability"))
    }
    changed = [
        (cluster, probability, pk)
        for pk, (cluster, probability) in assignment.items()
        if stored.get(pk, (None, None)) != (cluster, probability)
    ]
    changed.sort(key=lambda r: r[2])  # in id order: the table is written in order
    quote = connection.ops.quote_name
    table, columns = (
        quote(Individual._meta.db_table),
        [quote(c) for c in ("cluster_id", "match_probability", "id")],
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(changed) > BATCH:
            # the new values COPYed into a temporary table, then one UPDATE … FROM
            cursor.execute(
                "CREATE TEMPORARY TABLE dedup_cluster_set "
                "(cluster_id bigint, match_probability double precision, id bigint) ON COMMIT DROP"
            )
            _copy(cursor, "dedup_cluster_set", ("cluster_id", "match_probability", "id"), changed)
            cursor.execute(
                "UPDATE {0} SET {1} = s.cluster_id, {2} = s.match_probability "  # noqa: S608 (names only)
                "FROM dedup_cluster_set s WHERE {0}.{3} = s.id".format(table, *columns)
            )
            cursor.execute("DROP TABLE dedup_cluster_set")
            return
        # One UPDATE per row through executemany: bulk_update's CASE WHEN grows with the batch and
        # takes minutes for 100,000 rows on SQLite.
        sql = "UPDATE {} SET {} = %s, {} = %s WHERE {} = %s".format(table, *columns)  # noqa: S608
        for start in range(0, len(changed), 10_000):
            cursor.executemany(sql, changed[start : start + 10_000])


def _new_clusters(operation: Operation, count: int) -> list[int]:
    """Ids of ``count`` new DedupClusters, made with one INSERT … SELECT … RETURNING (bulk_create
    spends two seconds on the 70,000 clusters of a million records)."""
    if count <= 0:
        return []
    if count > BATCH and connection.vendor in ("sqlite", "postgresql"):
        quote = connection.ops.quote_name
        table = quote(DedupCluster._meta.db_table)
        columns = ", ".join(quote(c) for c in ("operation_id", "created_at"))
        stamp = connection.ops.adapt_datetimefield_value(timezone.now())
        if connection.vendor == "postgresql":
            sql = f"INSERT INTO {table} ({columns}) SELECT %s, %s FROM generate_series(1, %s) RETURNING id"  # noqa: S608
            params = [operation.pk, stamp, count]
        else:
            sql = (
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "  # noqa: S608
                f"INSERT INTO {table} ({columns}) SELECT %s, %s FROM n RETURNING id"
            )
            params = [count, operation.pk, stamp]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            made = sorted(row[0] for row in cursor.fetchall())
        if len(made) == count:
            return made
        raise RuntimeError(CLUSTERS_SHORT)
    made = DedupCluster.objects.bulk_create(
        [DedupCluster(operation=operation) for _ in range(count)], batch_size=10_000
    )
    if all(c.pk for c in made):
        return [c.pk for c in made]
    # A database that does not return ids from a bulk insert: read the newest ones back.
    return list(
        DedupCluster.objects.filter(operation=operation).order_by("-pk").values_list("pk", flat=True)[:count]
    )[::-1]


# --- full run --------------------------------------------------------------------------------


def dedup_run(
    *, operation: Operation, by=None, progress: Progress | None = None, retrain: bool = False
) -> DedupResult:
    """Score the operation's active, unmerged individuals; write pairs and clusters (see the module doc)."""
    from .dedup import engine

    result = DedupResult()
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        result.seconds[name] = round(now - clock, 3)
        clock = now

    review, match = _thresholds(operation)
    _notify(progress, STAGE_READ)
    read_at = timezone.now()
    frame, current = _read(_active(operation))
    result.records = frame.height
    run_ids = {int(i) for i in frame["unique_id"].to_list()}
    lap("read")
    table = engine.prepare(frame, MAPPING, id_column="unique_id", progress=progress)
    del frame
    if table.height >= CACHE_MIN_RECORDS:  # the incremental matching in this process starts from it
        with _REGISTRY_LOCK:
            _REGISTRY[operation.pk] = _Registry(table=table, stamp=read_at, built=time.monotonic())
    lap("prepare")

    saved = model_active(operation)
    if saved is None or retrain:
        _notify(progress, STAGE_TRAIN)
        model = engine.train(table, fields=None, progress=progress)
        saved = _model_save(operation=operation, model=model, records=table.height)
        result.trained = True
        lap("train")
    model = saved.settings_json
    result.model_version = saved.version

    pairs = engine.predict(table, model, threshold=review, progress=progress) if table.height > 1 else None
    lap("predict")
    del table

    decisions = _decisions(operation)
    apart = [k for k, p in decisions.items() if p.status == MatchPair.Status.NOT_DUPLICATE]
    linked = [k for k, p in decisions.items() if p.status in LINKED]
    groups = _Groups(apart)
    best: dict[int, float] = {}
    for left, right in linked:
        if left in run_ids and right in run_ids and groups.union(left, right):
            probability = decisions[(left, right)].match_probability
            best[left] = max(best.get(left, 0.0), probability)
            best[right] = max(best.get(right, 0.0), probability)

    rows: list[tuple] = []
    if pairs is not None and pairs.height:
        pairs = _ordered_pairs(pairs)
        explained = _explanations(pairs, model)
        for (left, right, probability, weight), comparisons in zip(
            pairs.select("left", "right", "match_probability", "match_weight").iter_rows(),
            explained,
            strict=True,
        ):
            weight = float(weight) if weight is not None and math.isfinite(weight) else 0.0
            decision = decisions.get((left, right))
            status = MatchPair.Status.PENDING
            if decision is not None and decision.status == MatchPair.Status.NOT_DUPLICATE:
                status = decision.status
            elif probability >= match and groups.union(left, right):
                status = MatchPair.Status.AUTO
                best[left] = max(best.get(left, 0.0), probability)
                best[right] = max(best.get(right, 0.0), probability)
            rows.append((left, right, float(probability), weight, comparisons, status))
    del pairs
    result.pairs_found = len(rows)
    lap("cluster")

    members = [sorted(g) for g in groups.groups().values() if len(g) > 1]
    chosen, missing = _stable_ids(members, current)

    _notify(progress, STAGE_WRITE_PAIRS)
    with transaction.atomic():
        _lock(operation)
        existing = dict(decisions)
        decided = _decided(existing)
        seen = _pairs_write(operation=operation, rows=rows, existing=existing, result=result)
        # Undecided pairs the model no longer proposes go; a pair with a side outside this run (merged
        # away, closed) waits as it is, so undoing a merge brings it back to the queue.
        stale = [
            p.pk
            for k, p in existing.items()
            if k not in seen and p.status in UNDECIDED and k[0] in run_ids and k[1] in run_ids
        ]
        for start in range(0, len(stale), BATCH):
            MatchPair.objects.filter(pk__in=stale[start : start + BATCH]).delete()
        result.pairs_removed = len(stale)
        lap("write pairs")

        _notify(progress, STAGE_WRITE_CLUSTERS)
        fresh = iter(_new_clusters(operation, missing))
        assignment: dict[int, tuple[int | None, float | None]] = {}
        for group, cluster in zip(members, chosen, strict=True):
            if cluster is None:
                cluster = next(fresh)
                result.clusters_created += 1
            for pk in group:
                assignment[pk] = (cluster, best.get(pk))
        # Records that were clustered and are alone now leave their cluster, unless the cluster also
        # holds records outside this run (merged into this one, closed): a merge keeps its cluster.
        held = _clusters_held_outside(
            operation, {c for pk, c in current.items() if pk not in assignment}, run_ids
        )
        for pk, cluster in current.items():
            if pk not in assignment and cluster not in held:
                assignment[pk] = (None, None)
        _clusters_write(operation=operation, assignment=assignment, result=result)
        result.clusters = len(members)
        result.clustered_records = sum(len(g) for g in members)
        result.pending = sum(
            1 for r in rows if r[5] == MatchPair.Status.PENDING and (r[0], r[1]) not in decided
        )
        result.auto = sum(1 for r in rows if r[5] == MatchPair.Status.AUTO and (r[0], r[1]) not in decided)
        audit_record(action="registration.dedup_run", obj=operation, by=by, detail=_audit_detail(result))
        lap("write clusters")
    return result


def _clusters_held_outside(operation: Operation, clusters: set[int], run_ids: set[int]) -> set[int]:
    """Those of ``clusters`` with a member the run did not read (merged away, closed, erased)."""
    held: set[int] = set()
    ordered = sorted(clusters)
    for start in range(0, len(ordered), BATCH):
        rows = Individual.objects.filter(operation=operation, cluster_id__in=ordered[start : start + BATCH])
        for pk, cluster in rows.values_list("pk", "cluster_id"):
            if pk not in run_ids:
                held.add(cluster)
    return held


def _lock(operation: Operation) -> None:
    """Writers of one operation's pairs and clusters take turns (a run and a job arriving together)."""
    list(Operation.objects.select_for_update().filter(pk=operation.pk).values_list("pk", flat=True))


def _decided(existing: dict[tuple[int, int], _Stored]) -> set[tuple[int, int]]:
    return {k for k, p in existing.items() if p.status not in UNDECIDED}


def _audit_detail(result: DedupResult) -> dict:
    keep = (
        "records",
        "model_version",
        "trained",
        "pairs_found",
        "pairs_created",
        "pairs_updated",
        "pairs_removed",
        "pending",
        "auto",
        "decided",
        "clusters",
        "clusters_created",
        "clustered_records",
    )
    return {k: getattr(result, k) for k in keep}


# --- incremental -----------------------------------------------------------------------------


def _candidates(operation: Operation, new_ids: list[int]):
    """Existing records a new batch can meet through the engine's blocking rules, read from plain
    columns and keyed hashes only: the same birth year (every rule on dates compares dates of one
    year), the same location (rules on names and place), phone or document hash."""
    existing = _active(operation).exclude(pk__in=new_ids)
    if len(new_ids) > CANDIDATE_FILTER_MAX:
        return existing
    new = Individual.objects.filter(pk__in=new_ids)
    years = set(new.exclude(birth_year__isnull=True).values_list("birth_year", flat=True))
    places = set(
        new.exclude(household__location_pcode="").values_list("household__location_pcode", flat=True)
    )
    phones = set(new.exclude(household__phone_hash="").values_list("household__phone_hash", flat=True))
    documents = set(
        IdentityDocument.objects.filter(individual__in=new_ids).values_list("number_hash", flat=True)
    )
    near = (
        Q(birth_year__in=years)
        | Q(household__location_pcode__in=places)
        | Q(household__phone_hash__in=phones)
    )
    if documents:
        near |= Q(pk__in=IdentityDocument.objects.filter(number_hash__in=documents).values("individual_id"))
    return existing.filter(near)


def _clusters_of(ids: set[int]) -> dict[int, int]:
    """Current cluster ids of these individuals (those in one)."""
    ordered = sorted(ids)
    out: dict[int, int] = {}
    for start in range(0, len(ordered), BATCH):
        rows = Individual.objects.filter(pk__in=ordered[start : start + BATCH], cluster__isnull=False)
        out.update(rows.values_list("pk", "cluster_id"))
    return out


def _incremental_tables(operation: Operation, new_ids: list[int]):
    """Prepared tables of the new records and of the existing ones they are scored against.

    A large registry is kept prepared in this process's memory (see ``_Registry``) and brought up to
    date from the records changed since; a small one is read from the database each time, only the
    records a new one can meet (``_candidates``)."""
    import polars as pl

    from .dedup import engine

    size = _active(operation).count()
    if size >= CACHE_MIN_RECORDS:
        table = _registry(operation, size)
        is_new = pl.col("unique_id").is_in([str(i) for i in new_ids])
        return table.filter(is_new), table.filter(~is_new)
    if len(new_ids) > CANDIDATE_FILTER_MAX:  # a large batch meets most of the registry: read it once
        table = engine.prepare(_read(_active(operation))[0], MAPPING, id_column="unique_id")
        is_new = pl.col("unique_id").is_in([str(i) for i in new_ids])
        return table.filter(is_new), table.filter(~is_new)
    new_frame = _read(_active(operation).filter(pk__in=new_ids))[0]
    old_frame = _read(_candidates(operation, new_ids))[0]
    return (
        engine.prepare(new_frame, MAPPING, id_column="unique_id"),
        engine.prepare(old_frame, MAPPING, id_column="unique_id"),
    )


# --- the prepared registry kept in memory ----------------------------------------------------

CACHE_MIN_RECORDS = 20_000  # below this, reading the candidates of a batch takes about a second
CACHE_SECONDS = 3600  # read everything again after this long (catches changes no timestamp shows)
CACHE_DELTA_MAX = 200_000  # more changed records than this: read everything again


@dataclass
class _Registry:
    """An operation's active records, prepared for the engine (decrypted values: memory only)."""

    table: object  # polars DataFrame from engine.prepare
    stamp: object  # records changed after this moment are read again
    built: float  # time.monotonic() of the full read


_REGISTRY: dict[int, _Registry] = {}
_REGISTRY_LOCK = threading.Lock()


def registry_forget(operation_id: int | None = None) -> None:
    """Drop the prepared registry kept in memory (of one operation, or all)."""
    with _REGISTRY_LOCK:
        if operation_id is None:
            _REGISTRY.clear()
        else:
            _REGISTRY.pop(operation_id, None)


def _registry(operation: Operation, size: int):
    """The operation's prepared active records, up to date: read once, then only what changed.

    Changes are found by ``updated_at`` (of individuals, and of households for phone and place);
    records that left the active set are dropped; if the count still disagrees (a row deleted, a
    bulk update without a timestamp) or the copy is older than CACHE_SECONDS, everything is read
    again. A corrected document number alone does not touch ``updated_at``: it is picked up at the
    next full read (CACHE_SECONDS) or dedup-run.
    """
    import polars as pl

    from .dedup import engine

    with _REGISTRY_LOCK:
        entry = _REGISTRY.get(operation.pk)
        now = timezone.now()
        if entry is not None and time.monotonic() - entry.built < CACHE_SECONDS:
            touched = set(
                Individual.objects.filter(operation=operation, updated_at__gt=entry.stamp).values_list(
                    "pk", flat=True
                )
            )
            households = Household.objects.filter(operation=operation, updated_at__gt=entry.stamp)
            touched |= set(Individual.objects.filter(household__in=households).values_list("pk", flat=True))
            if len(touched) <= CACHE_DELTA_MAX:
                table = entry.table
                if touched:
                    ordered = sorted(touched)
                    table = table.filter(~pl.col("unique_id").is_in([str(i) for i in ordered]))
                    fresh = [
                        engine.prepare(
                            _read(_active(operation).filter(pk__in=ordered[i : i + 20_000]))[0],
                            MAPPING,
                            id_column="unique_id",
                        )
                        for i in range(0, len(ordered), 20_000)
                    ]
                    table = pl.concat([table, *fresh], how="vertical_relaxed")
                if table.height == size:
                    _REGISTRY[operation.pk] = _Registry(table=table, stamp=now, built=entry.built)
                    return table
        table = engine.prepare(_read(_active(operation))[0], MAPPING, id_column="unique_id")
        _REGISTRY[operation.pk] = _Registry(table=table, stamp=now, built=time.monotonic())
        return table


def dedup_incremental(
    *, operation: Operation, individual_ids: Iterable[int], by=None, progress: Progress | None = None
) -> DedupResult:
    """Score new records against the existing ones with the saved model; they join the best
    existing cluster above the match threshold (its id kept); pairs in the band wait for review.

    Does nothing when the operation has no saved model yet (``result.skipped`` says so): run
    ``mobility registration dedup-run`` once the operation holds enough records (about 1,000).
    """
    from .dedup import engine

    result = DedupResult()
    saved = model_active(operation)
    new_ids = sorted({int(i) for i in individual_ids})
    if saved is None:
        result.skipped = "no model"
        return result
    if not new_ids:
        result.skipped = "no records"
        return result
    clock = time.perf_counter()
    model = saved.settings_json
    result.model_version = saved.version
    review, match = _thresholds(operation)

    _notify(progress, STAGE_READ)
    new_table, old_table = _incremental_tables(operation, new_ids)
    if new_table.height == 0:
        result.skipped = "no active records"
        return result
    result.records = new_table.height
    result.seconds["read"] = round(time.perf_counter() - clock, 3)
    pairs = engine.match_new(new_table, old_table, model, threshold=review, progress=progress)
    del old_table
    result.seconds["score"] = round(time.perf_counter() - clock - result.seconds["read"], 3)

    new_set = {int(i) for i in new_table["unique_id"].to_list()}
    involved = new_set | {int(i) for c in ("unique_id_l", "unique_id_r") for i in pairs[c].to_list()}
    clusters = _clusters_of(involved)
    old_clusters = {pk: c for pk, c in clusters.items() if pk not in new_set}
    decisions = _decisions(operation, new_set)
    apart = [k for k, p in decisions.items() if p.status == MatchPair.Status.NOT_DUPLICATE]
    # Each existing record stands for its cluster (or itself when alone): a group may hold one only.
    anchor_of = {pk: ("c", c) for pk, c in old_clusters.items()}
    groups = _Groups(apart)
    anchors: dict[int, tuple] = {}  # root → the existing cluster/record its group joined

    def join(a: int, b: int) -> bool:
        ra, rb = groups.find(a), groups.find(b)
        anchor_a = anchors.get(ra) or (_anchor(a, anchor_of) if a not in new_set else None)
        anchor_b = anchors.get(rb) or (_anchor(b, anchor_of) if b not in new_set else None)
        if ra == rb:
            return True
        if anchor_a and anchor_b and anchor_a != anchor_b:
            return False  # never merge two existing clusters on the strength of a new record
        if not groups.union(a, b):
            return False
        root = groups.find(a)
        anchors.pop(ra, None), anchors.pop(rb, None)
        if anchor_a or anchor_b:
            anchors[root] = anchor_a or anchor_b
        return True

    best: dict[int, float] = {}
    rows = []
    if pairs.height:
        pairs = _ordered_pairs(pairs)
        explained = _explanations(pairs, model)
        for (left, right, probability, weight), comparisons in zip(
            pairs.select("left", "right", "match_probability", "match_weight").iter_rows(),
            explained,
            strict=True,
        ):
            weight = float(weight) if weight is not None and math.isfinite(weight) else 0.0
            decision = decisions.get((left, right))
            status = MatchPair.Status.PENDING
            if decision is not None and decision.status == MatchPair.Status.NOT_DUPLICATE:
                status = decision.status
            elif probability >= match and join(left, right):
                status = MatchPair.Status.AUTO
                for pk in (left, right):
                    if pk in new_set:
                        best[pk] = max(best.get(pk, 0.0), probability)
            rows.append((left, right, float(probability), weight, comparisons, status))
    result.pairs_found = len(rows)

    with transaction.atomic():
        _lock(operation)
        _pairs_write(operation=operation, rows=rows, existing=decisions, result=result)
        assignment: dict[int, tuple[int | None, float | None]] = {}
        created: dict[tuple, int] = {}
        by_root: dict[int, list[int]] = {}
        for pk in set(groups.parent) | {x for r in rows for x in r[:2]}:
            by_root.setdefault(groups.find(pk), []).append(pk)
        for root, group in by_root.items():
            if len(group) < 2:
                continue
            anchor = anchors.get(root)
            if anchor and anchor[0] == "c":
                cluster = anchor[1]
            else:
                # an existing record alone (or only new records): their group needs a new cluster,
                # unless one of the new records already had one (a re-sent batch)
                known = sorted({clusters[pk] for pk in group if pk in clusters})
                if known:
                    cluster = known[0]
                else:
                    key = anchor or ("n", root)
                    if key not in created:
                        created[key] = _new_clusters(operation, 1)[0]
                        result.clusters_created += 1
                    cluster = created[key]
            for pk in group:
                if pk in new_set or clusters.get(pk) != cluster:
                    assignment[pk] = (cluster, best.get(pk) if pk in new_set else _probability(pk, rows))
            result.clusters += 1
        result.clustered_records = sum(1 for pk in assignment if pk in new_set)
        _clusters_write(operation=operation, assignment=assignment, result=result)
        result.pending = sum(1 for r in rows if r[5] == MatchPair.Status.PENDING)
        result.auto = sum(1 for r in rows if r[5] == MatchPair.Status.AUTO)
        audit_record(
            action="registration.dedup_incremental", obj=operation, by=by, detail=_audit_detail(result)
        )
    result.seconds["total"] = round(time.perf_counter() - clock, 3)
    return result


def _anchor(pk: int, anchor_of: dict[int, tuple]) -> tuple:
    return anchor_of.get(pk) or ("r", pk)


def _probability(pk: int, rows: list[tuple]) -> float | None:
    values = [r[2] for r in rows if pk in (r[0], r[1]) and r[5] == MatchPair.Status.AUTO]
    return max(values) if values else None


# --- after registration ----------------------------------------------------------------------


def after_households_written(operation: Operation, new_individual_ids: Iterable[int]) -> None:
    """Call inside the transaction that registered households: once it commits, the new people are
    matched against the registry (in the request when settings.SYNC_JOBS, else as a background
    job). Nothing happens while the operation has no saved model."""
    ids = sorted({int(i) for i in new_individual_ids or ()})
    if not ids:
        return
    operation_id = operation.pk

    def run() -> None:
        if not DedupModel.objects.filter(operation_id=operation_id, active=True).exists():
            return
        if getattr(settings, "SYNC_JOBS", False):
            dedup_incremental_safe(operation_id, ids)
        else:
            from .tasks import dedup_incremental_task

            dedup_incremental_task(operation_id, ids)

    transaction.on_commit(run)


def dedup_incremental_safe(operation_id: int, individual_ids: list[int]) -> bool:
    """dedup_incremental for a job: a failure is logged (no value in the message) and leaves the
    registration stored; a later dedup-run scores the records."""
    operation = Operation.objects.filter(pk=operation_id).first()
    if operation is None:
        return False
    try:
        dedup_incremental(operation=operation, individual_ids=individual_ids)
    except Exception as exc:  # noqa: BLE001 - the registration is committed; matching can run again
        log.warning("incremental matching failed in operation %s: %s", operation_id, type(exc).__name__)
        return False
    return True
