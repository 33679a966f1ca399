"""Fast inserts of many rows: one ``executemany`` through Django's connection, on SQLite and PostgreSQL.

``bulk_create`` spends most of its time preparing each value of each instance (field_as_sql,
get_db_prep_save): on a million figures that is most of an import. ``rows_insert`` takes plain tuples
instead, converts only the columns that need it (JSON, dates, decimals...) once per value, and hands
the rows to the driver's executemany (sqlite3, or psycopg's pipelined executemany). It is the one place
where the dialect difference lives: placeholders and value adaptation come from Django's connection.

What it does not do: run ``full_clean`` (neither does bulk_create; callers validate before), fill
``auto_now`` fields (pass them), or return ids (read them back by the rows' natural key).
Database constraints (unique, foreign keys, CHECK on positive integers) still hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice

from django.db import connections, models, router

BATCH_ROWS = 10_000

# Field classes whose Python values the drivers take as they are (no get_db_prep_save needed).
_PLAIN_FIELDS = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField,
    models.AutoField,
    models.BigAutoField,
    models.BooleanField,
    models.FloatField,
)


def _converter(field: models.Field, connection) -> Callable | None:
    """None when the driver takes the value as it is; else the field's own preparation for this database."""
    target = field.target_field if field.is_relation else field
    if type(target) in _PLAIN_FIELDS:
        return None

    def convert(value, _field=target, _connection=connection):
        return _field.get_db_prep_save(value, _connection)

    return convert


def _batches(rows: Iterable[Sequence], size: int) -> Iterator[list[Sequence]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def rows_insert(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence],
    *,
    using: str | None = None,
    batch_size: int = BATCH_ROWS,
) -> int:
    """Insert ``rows`` (tuples of Python values in the order of ``fields``) into model's table; returns the count.

    ``fields`` are model field names (``assessment`` or ``assessment_id`` for a foreign key). Run it
    inside the caller's transaction: rows are sent in batches of ``batch_size``.
    """
    using = using or router.db_for_write(model)
    connection = connections[using]
    meta = model._meta
    columns, converters = [], []
    for name in fields:
        field = meta.get_field(name[:-3] if name.endswith("_id") and not _is_field(meta, name) else name)
        if field.many_to_many or not field.concrete:
            raise ValueError(f"{meta.label}.{name} is not a column")
        columns.append(connection.ops.quote_name(field.column))
        converters.append(_converter(field, connection))
    # Only quoted identifiers from the model are interpolated; values go as parameters.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        connection.ops.quote_name(meta.db_table), ", ".join(columns), ", ".join(["%s"] * len(columns))
    )
    convert_at = [(i, c) for i, c in enumerate(converters) if c is not None]
    total = 0
    with connection.cursor() as cursor:
        for batch in _batches(rows, batch_size):
            if convert_at:
                prepared = []
                for row in batch:
                    row = list(row)
                    for i, convert in convert_at:
                        row[i] = convert(row[i])
                    prepared.append(row)
                batch = prepared
            cursor.executemany(sql, batch)
            total += len(batch)
    return total


def _is_field(meta, name: str) -> bool:
    try:
        meta.get_field(name)
    except Exception:
        return False
    return True
