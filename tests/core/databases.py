"""A second, blank database beside the test database (same vendor), and a table-by-table comparison.

On SQLite it is a file under tmp_path; on PostgreSQL a database named after the test database
(``test_<db>_<suffix>``), created for the test and dropped after it.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

from django.apps import apps
from django.db import connection, connections


@contextlib.contextmanager
def blank_database(alias: str, tmp_path: Path) -> Iterator[str]:
    """Register ``alias`` as a new empty database of the default's vendor; drop it afterwards.

    Needs a test with committed transactions (``transactional_db``): CREATE DATABASE cannot run in one.
    """
    base = dict(connection.settings_dict)
    if connection.vendor == "sqlite":
        config = {**base, "NAME": str(tmp_path / f"{alias}.sqlite3"), "TEST": {}}
    else:
        name = f"{base['NAME']}_{alias}"[:63]
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
        config = {**base, "NAME": name, "TEST": {}}
    register(alias, config)
    try:
        yield alias
    finally:
        unregister(alias)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{config["NAME"]}" WITH (FORCE)')


def register(alias: str, config: dict) -> None:
    """A connection made on the fly: it is not in settings.DATABASES, so the test case's guard (which
    forbids the configured aliases a test did not declare) lets it through, as Django intends for
    connections created at run time."""
    connections.settings[alias] = connections.configure_settings(
        {"default": dict(connection.settings_dict), alias: config}
    )[alias]
    try:
        connections[alias]
    finally:
        del connections.settings[alias]


def unregister(alias: str) -> None:
    connections[alias].close()
    del connections[alias]


def _plain(value):
    return bytes(value) if isinstance(value, memoryview) else value


def table_digests(alias: str) -> dict[str, tuple[int, str]]:
    """Every model's table (auto-created many-to-many tables too): its row count and a sha256 of its
    rows' stored values (encrypted columns as stored), in primary key order."""
    db = connections[alias]
    out = {}
    with db.cursor() as cursor:
        for model in apps.get_models(include_auto_created=True):
            meta = model._meta
            if not meta.managed or meta.proxy:
                continue
            columns = ", ".join(db.ops.quote_name(f.column) for f in meta.concrete_fields)
            table, pk = db.ops.quote_name(meta.db_table), db.ops.quote_name(meta.pk.column)
            cursor.execute(f"SELECT {columns} FROM {table} ORDER BY {pk}")  # noqa: S608 (model metadata)
            digest, rows = hashlib.sha256(), 0
            for row in cursor.fetchall():
                digest.update(repr(tuple(_plain(v) for v in row)).encode())
                rows += 1
            out[meta.db_table] = (rows, digest.hexdigest())
    return out


def table_names(alias: str) -> set[str]:
    db = connections[alias]
    with db.cursor() as cursor:
        return set(db.introspection.table_names(cursor))
