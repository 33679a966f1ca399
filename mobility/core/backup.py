"""Backup and restore: the database, the uploaded files and the laptop keys in one archive.

An archive is a ``.tar.gz`` holding::

    database/mobility.sqlite3   (SQLite: an online backup, a consistent snapshot taken while the server writes)
    database/mobility.pgdump    (PostgreSQL: pg_dump in custom format, from the same snapshot as the counts)
    files/uploads/...           every file under MEDIA_ROOT (kept import files, XLSForms, attachments)
    keys/field_keys ...         the key files Mobility keeps in var/ when no key is set in the
                                environment (field encryption, keyed hashes, SECRET_KEY); not with --no-keys
    manifest.json               last: format, versions, database vendor, applied migrations per app,
                                rows per table and the sha256 and size of every other member

Restore reads the whole archive into a staging folder and checks every checksum before it changes
anything, refuses a backup from newer code (a migration this code does not have) or into a database
that already holds data (unless told to replace it), restores the database, puts the files and keys
back (what they replace is moved aside, never deleted), then migrates, so an older backup upgrades.

What is not in an archive: the job queue (var/jobs.sqlite3: queued jobs are not kept), collected static
files (rebuilt by collectstatic) and the flows analytics mirror (a cache, dropped at restore), and keys
given in the environment (MOBILITY_FIELD_KEYS, MOBILITY_HASH_KEY, SECRET_KEY): keep those elsewhere.
Output never names an uploaded file or a value: uploads are counted, not listed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.db import connections, transaction

FORMAT = 1
KIND = "mobility-backup"
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/mobility.sqlite3"
PGDUMP_MEMBER = "database/mobility.pgdump"
FILES_PREFIX = "files/uploads/"
KEYS_PREFIX = "keys/"
# Files Mobility writes into var/ when the environment gives no key (see registration/crypto.py, settings.py).
KEY_FILES = ("field_keys", "hash_key", "secret_key")
# Tables a freshly migrated, never used database already fills: they do not make a target "in use".
MIGRATE_FILLS = {"django_migrations", "django_content_type", "auth_permission"}
CHUNK = 1 << 20
MANIFEST_MAX_BYTES = 512 * CHUNK  # about three million members
# Where PostgreSQL's client tools live when they are not on PATH (Debian/Ubuntu, RHEL, Homebrew).
PG_BIN_FOLDERS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/opt/homebrew/opt/libpq/bin")
GZIP_LEVEL = 6

IN_TRANSACTION = "a backup or restore cannot run inside a database transaction"
OUTPUT_EXISTS = "{path} already exists: give another --output (a backup never overwrites a file)"
OUTPUT_IN_UPLOADS = "{path} is inside the uploads folder, which the backup copies: write it elsewhere"
VENDOR_UNSUPPORTED = "backups support SQLite and PostgreSQL, not {vendor}"
TOOL_MISSING = (
    "{tool} was not found: install the PostgreSQL client tools ({tool} {major} or newer, e.g. "
    "`apt install postgresql-client-{major}`) and make sure {tool} is on PATH"
)
TOOL_FAILED = "{tool} failed (exit status {status}): {error}"
SQLITE_DAMAGED = "the SQLite snapshot failed its integrity check ({result}): nothing was written"
ARCHIVE_MISSING = "{path}: no such file"
ARCHIVE_UNREADABLE = "{path} is not a readable .tar.gz archive (damaged or truncated): {error}"
NOT_A_BACKUP = "{path} is not a Mobility backup (no valid manifest.json)"
FORMAT_UNKNOWN = "{path} is a backup of format {found}; this code reads format {expected}"
MEMBER_UNSAFE = "the archive holds a member with an unsafe name or type (member {number}): refused"
MEMBER_DUPLICATE = "the archive holds member {name} twice: refused"
MEMBER_UNEXPECTED = "the archive holds {name}, which its manifest does not list: refused"
MEMBER_MISSING = "the archive lacks {name}, which its manifest lists: refused"
CHECKSUM_MISMATCH = "{name} does not match its checksum in the manifest (damaged or altered): refused"
SCHEMA_NEWER = (
    "this backup was made by newer code: its database has migration {app}.{migration}, which this "
    "code does not have. Install the version that made it ({version}) or newer, then restore"
)
VENDOR_MISMATCH = (
    "this is a {found} backup and the target database is {target}: restore it into a {found} database "
    "(moving between SQLite and PostgreSQL is not a restore)"
)
TARGET_NOT_EMPTY = (
    "the target database already holds data ({tables} tables have rows, e.g. {example}): "
    "restore with --yes to replace it"
)
MIGRATE_FAILED = (
    "the database and files were restored, but migrating them to this code failed ({error}): "
    "fix the cause, then run `mobility migrate`"
)
ROWS_DIFFER = (
    "the restored database differs from the manifest: table {table} has {found} rows, expected {expected}"
)


class BackupError(Exception):
    """A backup or restore refused or failed; the message says why and names no personal data."""


Report = Callable[[str], None]


def _quiet(_line: str) -> None:
    return None


@dataclass
class BackupResult:
    path: Path
    size: int
    sha256: str
    vendor: str
    tables: int
    rows: int
    files: int
    file_bytes: int
    keys: list[str]
    seconds: float


@dataclass
class RestoreResult:
    vendor: str
    tables: int
    rows: int
    files: int
    keys: list[str]
    migrations_applied: list[str]
    moved_aside: Path | None
    seconds: float
    manifest: dict = field(repr=False, default_factory=dict)


# --- small helpers --------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _vendor(connection) -> str:
    if connection.vendor not in {"sqlite", "postgresql"}:
        raise BackupError(VENDOR_UNSUPPORTED.format(vendor=connection.vendor))
    return connection.vendor


def _app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mobility")
    except PackageNotFoundError:  # pragma: no cover (a checkout that was never installed)
        return "unknown"


def _applied(rows) -> dict[str, list[str]]:
    applied: dict[str, list[str]] = {}
    for app, name in rows:
        applied.setdefault(app, []).append(name)
    return {app: sorted(names) for app, names in sorted(applied.items())}


def _files_under(root: Path) -> Iterator[Path]:
    """Regular files under root, in a stable order (symbolic links are not followed)."""
    if not root.is_dir():
        return
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path


@contextlib.contextmanager
def _atomic_output(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path``, renamed to it only when the block succeeds; removed otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(fd)
    os.chmod(tmp, 0o600)  # personal data (and, usually, the keys to it)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        if path.exists():
            raise BackupError(OUTPUT_EXISTS.format(path=path))
        os.replace(tmp, path)
        with contextlib.suppress(OSError):  # make the rename itself durable where the OS allows it
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


# --- the database snapshot ------------------------------------------------------------------------


def _sqlite_snapshot(connection, target: Path) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Copy the live database with SQLite's online backup API, in one step: one read transaction, so
    the copy is the database as it was at one instant, and in WAL mode writers are not blocked."""
    connection.ensure_connection()
    copy = sqlite3.connect(target)
    try:
        connection.connection.backup(copy)
        # A single self-contained file (no -wal beside it), checked before it goes into an archive.
        copy.execute("PRAGMA journal_mode=DELETE")
        result = copy.execute("PRAGMA quick_check").fetchone()[0]
        if result != "ok":
            raise BackupError(SQLITE_DAMAGED.format(result=result))
        return _sqlite_counts(copy), _sqlite_applied(copy)
    finally:
        copy.close()


def _sqlite_tables(db: sqlite3.Connection) -> list[str]:
    rows = db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    )
    return [name for (name,) in rows]


def _sqlite_counts(db: sqlite3.Connection) -> dict[str, int]:
    return {
        table: db.execute(f"SELECT COUNT(*) FROM {_quote(table)}").fetchone()[0]  # noqa: S608 (table names from the schema)
        for table in _sqlite_tables(db)
    }


def _sqlite_applied(db: sqlite3.Connection) -> dict[str, list[str]]:
    if "django_migrations" not in _sqlite_tables(db):
        return {}
    return _applied(db.execute("SELECT app, name FROM django_migrations"))


def _pg_tool(name: str, connection) -> str:
    """The newest ``name`` (pg_dump, pg_restore) on PATH or in the usual Debian/RHEL folders that is at
    least as new as the server (an older pg_dump refuses a newer server)."""
    server_major = connection.pg_version // 10000
    candidates = [shutil.which(name)]
    for folder in PG_BIN_FOLDERS:
        candidates += sorted(glob.glob(f"{folder}/{name}"))
    best: tuple[int, str] | None = None
    for candidate in filter(None, candidates):
        try:
            out = subprocess.run(
                [str(candidate), "--version"], capture_output=True, text=True, timeout=30, check=True
            ).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        match = re.search(r"(\d+)(?:\.\d+)?", out)
        major = int(match.group(1)) if match else 0
        if major >= server_major and (best is None or major > best[0]):
            best = (major, str(candidate))
    if best is None:
        raise BackupError(TOOL_MISSING.format(tool=name, major=server_major))
    return best[1]


def _pg_args(connection) -> tuple[list[str], dict[str, str]]:
    """Connection arguments and environment for pg_dump / pg_restore; the password goes in the
    environment, never on the command line."""
    from django.db.backends.postgresql.client import DatabaseClient

    settings_dict = connection.settings_dict
    args, env = DatabaseClient.settings_to_cmd_args_env(settings_dict, [])
    args = args[1:]
    # Django's psql arguments end with the database name unless a service names it; pg_restore
    # would read a bare name as its input file.
    if settings_dict.get("NAME") or not settings_dict["OPTIONS"].get("service"):
        args[-1] = f"--dbname={args[-1]}"
    return args, {**os.environ, **(env or {})}


def _run_tool(command: list[str], env: dict[str, str], tool: str) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        # First error lines only: DETAIL/CONTEXT lines may quote a row's values.
        lines = [
            line.strip()
            for line in done.stderr.splitlines()
            if line.strip() and not re.match(r"\s*(DETAIL|CONTEXT|LINE \d+|HINT)\b", line)
        ]
        raise BackupError(TOOL_FAILED.format(tool=tool, status=done.returncode, error=" | ".join(lines[:3])))


def _pg_counts(cursor, connection) -> dict[str, int]:
    counts = {}
    for table in sorted(connection.introspection.table_names(cursor)):
        cursor.execute(f"SELECT COUNT(*) FROM {_quote(table)}")  # noqa: S608 (table names from the schema)
        counts[table] = cursor.fetchone()[0]
    return counts


def _pg_snapshot(connection, target: Path) -> tuple[dict[str, int], dict[str, list[str]]]:
    """pg_dump (custom format) of the snapshot in which the rows are counted: the transaction exports
    its snapshot and stays open while pg_dump reads it, so manifest and dump agree exactly."""
    pg_dump = _pg_tool("pg_dump", connection)
    args, env = _pg_args(connection)
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        counts = _pg_counts(cursor, connection)
        applied: dict[str, list[str]] = {}
        if "django_migrations" in counts:
            cursor.execute("SELECT app, name FROM django_migrations")
            applied = _applied(cursor.fetchall())
        _run_tool(
            [
                pg_dump,
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                f"--file={target}",
                *args,
            ],
            env,
            "pg_dump",
        )
    return counts, applied


# --- backup ---------------------------------------------------------------------------------------


def default_output() -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(settings.VAR_DIR) / "backups" / f"mobility-backup-{stamp}.tar.gz"


class _HashingReader(io.RawIOBase):
    """A file read through once: tarfile copies it while its sha256 is taken."""

    def __init__(self, fh):
        self.fh = fh
        self.digest = hashlib.sha256()

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.fh.read(len(buffer))
        self.digest.update(data)
        buffer[: len(data)] = data
        return len(data)


def _add(archive: tarfile.TarFile, name: str, path: Path, members: dict) -> int:
    with path.open("rb") as fh:
        info = tarfile.TarInfo(name)
        info.size = os.fstat(fh.fileno()).st_size
        info.mtime = int(path.stat().st_mtime)
        info.mode = 0o600
        reader = _HashingReader(fh)
        archive.addfile(info, io.BufferedReader(reader, CHUNK))
    members[name] = {"sha256": reader.digest.hexdigest(), "size": info.size}
    return info.size


def backup_create(
    *, output: Path | str | None = None, using: str = "default", keys: bool = True, report: Report = _quiet
) -> BackupResult:
    """Write one archive of the database, the uploaded files and (unless ``keys=False``) the key files
    in var/. The archive appears whole at ``output`` or not at all."""
    from django.db.migrations.loader import MigrationLoader

    from .releases import release_of

    started = time.monotonic()
    connection = connections[using]
    vendor = _vendor(connection)
    if connection.in_atomic_block:
        raise BackupError(IN_TRANSACTION)
    as_folder = bool(output) and (str(output).endswith(("/", os.sep)) or Path(output).is_dir())
    output = Path(output) if output else default_output()
    if as_folder:
        output = output / default_output().name
    if output.exists():
        raise BackupError(OUTPUT_EXISTS.format(path=output))
    media_root = Path(settings.MEDIA_ROOT)
    if output.resolve().is_relative_to(media_root.resolve()):
        raise BackupError(OUTPUT_IN_UPLOADS.format(path=output))
    var_dir = Path(settings.VAR_DIR)
    members: dict[str, dict] = {}
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".mobility-backup-") as staging:
        report(f"database: taking a snapshot ({vendor})")
        step = time.monotonic()
        if vendor == "sqlite":
            snapshot, member = Path(staging) / "mobility.sqlite3", SQLITE_MEMBER
            counts, applied = _sqlite_snapshot(connection, snapshot)
            server = sqlite3.sqlite_version
        else:
            snapshot, member = Path(staging) / "mobility.pgdump", PGDUMP_MEMBER
            counts, applied = _pg_snapshot(connection, snapshot)
            server = str(connection.pg_version)
        rows = sum(counts.values())
        report(
            f"database: {len(counts)} tables, {rows} rows, snapshot {_mb(snapshot.stat().st_size)} "
            f"in {time.monotonic() - step:.1f} s"
        )
        graph = MigrationLoader(None, ignore_no_migrations=True).graph
        with _atomic_output(output) as tmp:
            with tarfile.open(tmp, "w:gz", compresslevel=GZIP_LEVEL, format=tarfile.PAX_FORMAT) as archive:
                _add(archive, member, snapshot, members)
                snapshot.unlink()
                files = file_bytes = 0
                for path in _files_under(media_root):
                    name = FILES_PREFIX + path.relative_to(media_root).as_posix()
                    file_bytes += _add(archive, name, path, members)
                    files += 1
                report(f"files: {files} uploaded files, {_mb(file_bytes)}")
                key_names = []
                if keys:
                    for name in KEY_FILES:
                        if (var_dir / name).is_file():
                            _add(archive, KEYS_PREFIX + name, var_dir / name, members)
                            key_names.append(name)
                    if key_names:
                        report(
                            f"keys: {', '.join(key_names)} from var/: this archive opens the personal data, "
                            "store it as carefully as the database"
                        )
                    else:
                        report("keys: none in var/ (keys set in the environment are never archived)")
                else:
                    report("keys: left out (--no-keys): keep the keys safe elsewhere, a restore needs them")
                manifest = {
                    "kind": KIND,
                    "format": FORMAT,
                    "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "app_version": _app_version(),
                    "release": release_of(applied, graph),
                    "django_version": _django_version(),
                    "database": {"vendor": vendor, "server_version": server, "member": member},
                    "migrations": applied,
                    "row_counts": counts,
                    "keys": {"included": keys, "files": key_names},
                    "files": {"count": files, "bytes": file_bytes},
                    "members": members,
                }
                data = json.dumps(manifest, indent=1, sort_keys=True).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
                archive.addfile(info, io.BytesIO(data))
    size = output.stat().st_size
    digest = _sha256(output)
    seconds = time.monotonic() - started
    report(f"wrote {output} ({_mb(size)}, sha256 {digest[:16]}…) in {seconds:.1f} s")
    return BackupResult(
        path=output,
        size=size,
        sha256=digest,
        vendor=vendor,
        tables=len(counts),
        rows=rows,
        files=files,
        file_bytes=file_bytes,
        keys=key_names,
        seconds=seconds,
    )


def _django_version() -> str:
    import django

    return django.get_version()


# --- reading an archive ---------------------------------------------------------------------------


def _safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    return (
        bool(name)
        and not path.is_absolute()
        and ".." not in path.parts
        and "\\" not in name
        and (name == MANIFEST or name.startswith(("database/", FILES_PREFIX, KEYS_PREFIX)))
    )


def _shown(name: str) -> str:
    """A member's name fit for a message: uploaded file names may name a person, so they are not shown."""
    return "an uploaded file" if name.startswith(FILES_PREFIX) else name


def backup_unpack(path: Path, staging: Path) -> dict:
    """Extract an archive into ``staging`` and check it against its manifest: every member listed,
    none more, every sha256 and size equal. Returns the manifest; raises BackupError otherwise."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(ARCHIVE_MISSING.format(path=path))
    found: dict[str, dict] = {}
    manifest_bytes = None
    try:
        with tarfile.open(path, "r:gz") as archive:
            for number, member in enumerate(archive, start=1):
                if not member.isfile() or not _safe_name(member.name):
                    raise BackupError(MEMBER_UNSAFE.format(number=number))
                if member.name in found or (member.name == MANIFEST and manifest_bytes is not None):
                    raise BackupError(MEMBER_DUPLICATE.format(name=_shown(member.name)))
                source = archive.extractfile(member)
                if member.name == MANIFEST:
                    manifest_bytes = source.read(MANIFEST_MAX_BYTES)
                    continue
                target = staging / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                digest, size = hashlib.sha256(), 0
                with target.open("wb") as out:
                    while chunk := source.read(CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                found[member.name] = {"sha256": digest.hexdigest(), "size": size}
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise BackupError(ARCHIVE_UNREADABLE.format(path=path, error=type(exc).__name__)) from None
    try:
        manifest = json.loads(manifest_bytes or b"")
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise BackupError(NOT_A_BACKUP.format(path=path))
    if manifest.get("format") != FORMAT:
        raise BackupError(FORMAT_UNKNOWN.format(path=path, found=manifest.get("format"), expected=FORMAT))
    listed = manifest.get("members") or {}
    for name in sorted(found):
        if name not in listed:
            raise BackupError(MEMBER_UNEXPECTED.format(name=_shown(name)))
    for name, expected in sorted(listed.items()):
        if name not in found:
            raise BackupError(MEMBER_MISSING.format(name=_shown(name)))
        if found[name] != {"sha256": expected.get("sha256"), "size": expected.get("size")}:
            raise BackupError(CHECKSUM_MISMATCH.format(name=_shown(name)))
    member = manifest.get("database", {}).get("member")
    if member not in {SQLITE_MEMBER, PGDUMP_MEMBER} or member not in found:
        raise BackupError(NOT_A_BACKUP.format(path=path))
    return manifest


def schema_check(manifest: dict) -> None:
    """Refuse a backup whose database has a migration this code does not know (it is from newer code)."""
    from django.db.migrations.loader import MigrationLoader

    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    for app, names in sorted(manifest.get("migrations", {}).items()):
        for name in names:
            if (app, name) not in known:
                raise BackupError(
                    SCHEMA_NEWER.format(
                        app=app,
                        migration=name,
                        version=manifest.get("release") or manifest.get("app_version", "?"),
                    )
                )


def _in_use(connection) -> list[str]:
    """The target's tables that hold rows, leaving out what ``migrate`` writes into an empty database."""
    used = []
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            if table not in MIGRATE_FILLS:
                cursor.execute(f"SELECT 1 FROM {_quote(table)} LIMIT 1")  # noqa: S608 (names from the schema)
                if cursor.fetchone():
                    used.append(table)
    return used


# --- restore --------------------------------------------------------------------------------------


def _sqlite_restore(connection, snapshot: Path) -> None:
    """Copy the snapshot over the target with the backup API (page by page, in one write transaction)."""
    connection.ensure_connection()
    source = sqlite3.connect(f"file:{snapshot}?mode=ro", uri=True)
    try:
        source.backup(connection.connection)
    except sqlite3.Error as exc:
        raise BackupError(f"the SQLite restore failed: {exc}") from None
    finally:
        source.close()


def _pg_wipe(connection) -> None:
    """Drop every table, view and sequence of the target's schema (the dump recreates them all)."""
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for kind, catalog, column in (
            ("VIEW", "pg_views", "viewname"),
            ("TABLE", "pg_tables", "tablename"),
        ):
            cursor.execute(
                f"SELECT {column} FROM {catalog} WHERE schemaname = current_schema()"  # noqa: S608 (catalog names)
            )
            names = [_quote(name) for (name,) in cursor.fetchall()]
            if names:
                cursor.execute(f"DROP {kind} IF EXISTS {', '.join(names)} CASCADE")
        cursor.execute(
            "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = current_schema()"
        )
        names = [_quote(name) for (name,) in cursor.fetchall()]
        if names:
            cursor.execute(f"DROP SEQUENCE IF EXISTS {', '.join(names)} CASCADE")


def _pg_restore(connection, dump: Path) -> None:
    pg_restore = _pg_tool("pg_restore", connection)
    args, env = _pg_args(connection)
    _pg_wipe(connection)
    connection.close()  # no statement prepared against the dropped tables survives
    _run_tool(
        [
            pg_restore,
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            *args,
            str(dump),
        ],
        env,
        "pg_restore",
    )


def _counts_check(connection, expected: dict[str, int]) -> None:
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for table, rows in sorted(expected.items()):
            found = None
            if table in tables:
                cursor.execute(f"SELECT COUNT(*) FROM {_quote(table)}")  # noqa: S608 (table names from the manifest, quoted)
                found = cursor.fetchone()[0]
            if found != rows:
                raise BackupError(ROWS_DIFFER.format(table=table, found=found, expected=rows))


def _move_aside(path: Path, aside: Path) -> None:
    aside.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), str(aside / path.name))


def _write_private(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _files_restore(staging: Path, stamp: str) -> tuple[int, list[str], Path | None]:
    """Put the uploads and key files in place; whatever they replace is moved to var/replaced-<stamp>/."""
    media_root = Path(settings.MEDIA_ROOT)
    var_dir = Path(settings.VAR_DIR)
    aside = var_dir / f"replaced-{stamp}"
    moved = False
    uploads = staging / FILES_PREFIX.rstrip("/")
    if media_root.exists() and any(media_root.iterdir()):
        _move_aside(media_root, aside)
        moved = True
    elif media_root.exists():
        media_root.rmdir()
    media_root.parent.mkdir(parents=True, exist_ok=True)
    if uploads.is_dir():
        shutil.move(str(uploads), str(media_root))
    else:
        media_root.mkdir()
    files = sum(1 for _ in _files_under(media_root))
    keys = []
    for name in KEY_FILES:
        source = staging / KEYS_PREFIX / name
        if not source.is_file():
            continue
        data = source.read_bytes()
        target = var_dir / name
        if target.exists() and target.read_bytes() != data:
            _move_aside(target, aside)
            moved = True
        if not target.exists():
            _write_private(target, data)
        keys.append(name)
    return files, keys, aside if moved else None


def _analytics_drop() -> None:
    """The flows analytics mirror describes the database that was replaced: drop it (it is a cache)."""
    from django.apps import apps

    if not apps.is_installed("mobility.flows"):
        return
    from mobility.flows.analytics import mirror_dir, mirror_drop

    root = mirror_dir()
    if root.is_dir():
        for folder in root.iterdir():
            if folder.is_dir() and re.fullmatch(r"op-\d+", folder.name):
                mirror_drop(int(folder.name[3:]))


def _keys_reset() -> None:
    from django.apps import apps

    if apps.is_installed("mobility.registration"):
        from mobility.registration.crypto import reset_keys

        reset_keys()


def backup_restore(
    *, archive: Path, using: str = "default", replace: bool = False, report: Report = _quiet
) -> RestoreResult:
    """Restore an archive into the configured database and var/; see the module's docstring."""
    from django.core.management import call_command
    from django.db.migrations.recorder import MigrationRecorder

    started = time.monotonic()
    connection = connections[using]
    vendor = _vendor(connection)
    if connection.in_atomic_block:
        raise BackupError(IN_TRANSACTION)
    var_dir = Path(settings.VAR_DIR)
    var_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    with tempfile.TemporaryDirectory(dir=var_dir, prefix=".mobility-restore-") as staging_dir:
        staging = Path(staging_dir)
        manifest = backup_unpack(archive, staging)
        database = manifest["database"]
        counts = manifest.get("row_counts", {})
        report(
            f"archive: made {manifest.get('created_at', '?')} by Mobility {manifest.get('app_version', '?')} "
            f"(release {manifest.get('release') or 'unknown'}), {database['vendor']}, {len(counts)} tables, "
            f"{sum(counts.values())} rows, {manifest.get('files', {}).get('count', 0)} files: "
            f"{len(manifest['members'])} checksums verified"
        )
        if database["vendor"] != vendor:
            raise BackupError(VENDOR_MISMATCH.format(found=database["vendor"], target=vendor))
        schema_check(manifest)
        used = _in_use(connection)
        if used and not replace:
            raise BackupError(TARGET_NOT_EMPTY.format(tables=len(used), example=used[0]))
        if used:
            report(f"database: replacing the rows of {len(used)} tables (--yes)")
        snapshot = staging / database["member"]
        step = time.monotonic()
        if vendor == "sqlite":
            _sqlite_restore(connection, snapshot)
        else:
            _pg_restore(connection, snapshot)
        _counts_check(connection, counts)
        report(
            f"database: restored {sum(counts.values())} rows in {len(counts)} tables "
            f"in {time.monotonic() - step:.1f} s"
        )
        files, keys, aside = _files_restore(staging, stamp)
    _keys_reset()
    _analytics_drop()
    report(f"files: {files} uploaded files put back")
    if keys:
        report(f"keys: {', '.join(keys)} put back in var/")
    elif not manifest.get("keys", {}).get("included", True):
        report(
            "keys: not in this archive (--no-keys): set MOBILITY_FIELD_KEYS and MOBILITY_HASH_KEY (or put "
            "the key files back in var/) or the personal data stays unreadable"
        )
    if aside:
        report(f"moved what was replaced to {aside}")
    restored = set(MigrationRecorder(connection).applied_migrations())
    step = time.monotonic()
    try:
        call_command("migrate", database=using, interactive=False, verbosity=0)
    except Exception as exc:
        # The first line only: a database error's DETAIL may quote a row.
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        raise BackupError(MIGRATE_FAILED.format(error=error)) from exc
    applied = sorted(
        f"{app}.{name}" for app, name in set(MigrationRecorder(connection).applied_migrations()) - restored
    )
    if applied:
        report(
            f"migrations: applied {len(applied)} to upgrade the backup in {time.monotonic() - step:.1f} s: "
            f"{', '.join(applied)}"
        )
    else:
        report("migrations: the backup's schema is current")
    seconds = time.monotonic() - started
    report(f"restore done in {seconds:.1f} s")
    return RestoreResult(
        vendor=vendor,
        tables=len(counts),
        rows=sum(counts.values()),
        files=files,
        keys=keys,
        migrations_applied=applied,
        moved_aside=aside,
        seconds=seconds,
        manifest=manifest,
    )
