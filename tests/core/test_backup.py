"""An IMO backs up a running Mobility and restores it on a new machine: every table, every kept file and
the keys come back, and a damaged, foreign, newer or misplaced restore is refused before anything changes."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import sqlite3
import tarfile
import threading
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from mobility.core import backup
from mobility.core.backup import (
    CHECKSUM_MISMATCH,
    IN_TRANSACTION,
    NOT_A_BACKUP,
    TOOL_MISSING,
    BackupError,
    backup_create,
    backup_restore,
)
from mobility.core.models import ImportJob, Operation
from mobility.registration.crypto import reset_keys
from tests.core.databases import blank_database, register, table_digests, table_names, unregister

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parents[2]
TRACKING_TEMPLATE = REPO / "mobility" / "tracking" / "data" / "template_assessments.csv"
FLOWS_TEMPLATE = REPO / "mobility" / "flows" / "data" / "template_flow_counts.csv"
HEAD_FAMILY_NAME = "Abdulrazak"
UPLOAD_NAME = "cabo-delgado-round1-abdulrazak.csv"


def use_var(settings, root: Path) -> Path:
    """Point var/, the uploads and the flows mirror at ``root`` (as on another machine)."""
    root.mkdir(parents=True, exist_ok=True)
    settings.VAR_DIR = root
    settings.MEDIA_ROOT = root / "uploads"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": root / "uploads"}},
    }
    settings.FLOWS_ANALYTICS_DIR = root / "analytics" / "flows"
    reset_keys()
    return root


@pytest.fixture
def machine_a(settings, tmp_path, monkeypatch):
    """The machine that is backed up: laptop keys generated into its var/ (none from the environment)."""
    monkeypatch.delenv("MOBILITY_FIELD_KEYS", raising=False)
    monkeypatch.delenv("MOBILITY_HASH_KEY", raising=False)
    yield use_var(settings, tmp_path / "machine-a")
    reset_keys()


def needs_pg_tools():
    """On PostgreSQL, skip (saying why) where pg_dump / pg_restore are not installed."""
    if connection.vendor == "postgresql":
        for tool in ("pg_dump", "pg_restore"):
            try:
                backup._pg_tool(tool, connection)
            except BackupError as exc:
                pytest.skip(str(exc))


@pytest.fixture
def target(transactional_db, tmp_path):
    needs_pg_tools()
    with blank_database("restore_target", tmp_path) as alias:
        yield alias


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def fill_world(operation, data_manager, tmp_path):
    """Rows in most apps through their real services and importers, with kept files."""
    from mobility.core import imports
    from mobility.core.services import api_token_create, round_create
    from mobility.flows.models import FlowMonitoringPoint
    from mobility.restrictions.services import poe_upsert
    from tests.gazetteer.gazetteer_fixtures import load_gazetteer
    from tests.registration.factories import household_make

    load_gazetteer("MOZ")
    round_create(operation=operation, number=1, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 31))
    api_token_create(user=data_manager, name="laptop sync")
    tracking = tmp_path / UPLOAD_NAME
    tracking.write_bytes(TRACKING_TEMPLATE.read_bytes())
    job = imports.run(
        imports.job_create(
            kind="tracking.template", source=tracking, profile={"operation": operation.pk, "round": 1}
        )
    )
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    for code in ("MOZ-FMP-001", "MOZ-FMP-002", "MOZ-FMP-003"):
        FlowMonitoringPoint.objects.create(
            operation=operation, code=code, name=f"Point {code[-1]}", country_iso3="MOZ"
        )
    job = imports.run(
        imports.job_create(kind="flows.counts", source=FLOWS_TEMPLATE, profile={"operation": operation.pk})
    )
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    poe_upsert(
        operation=operation,
        code="MOZ-RG",
        name="Ressano Garcia",
        type="land_border",
        country_iso3="MOZ",
        border_country_iso3="ZAF",
    )
    household_make(
        operation,
        "HH-BK-1",
        head={"given_name": "Fatima", "family_name": HEAD_FAMILY_NAME, "phone": "+258841234567"},
        members=[{"given_name": "Omar", "family_name": HEAD_FAMILY_NAME}],
    )


def test_a_backup_restores_every_table_file_and_key_on_another_machine(
    settings, machine_a, target, operation, data_manager, tmp_path
):
    from mobility.registration.crypto import keyed_hash
    from mobility.registration.models import Household, Individual

    fill_world(operation, data_manager, tmp_path)
    source_files = tree(machine_a / "uploads")
    assert len(source_files) >= 2  # the kept import files
    source_keys = {name: (machine_a / name).read_bytes() for name in ("field_keys", "hash_key")}

    out = run("backup", "--output", str(tmp_path / "backups") + "/")
    archive = next((tmp_path / "backups").glob("mobility-backup-*.tar.gz"))
    assert f"wrote {archive}" in out
    assert HEAD_FAMILY_NAME.lower() not in out.lower() and "cabo-delgado" not in out  # counts, not names
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        names = tar.getnames()
    assert manifest["database"]["vendor"] == connection.vendor
    assert manifest["migrations"]["registration"][-1].startswith("0003")
    assert manifest["row_counts"]["registration_individual"] == 2
    assert {"keys/field_keys", "keys/hash_key"} <= set(names) and names[-1] == "manifest.json"

    # The other machine: its own empty var/, a database with nothing in it and a stale flows mirror.
    machine_b = use_var(settings, tmp_path / "machine-b")
    stale = machine_b / "analytics" / "flows" / "op-1"
    stale.mkdir(parents=True)
    (stale / "manifest.json").write_text("{}")
    out = run("restore", str(archive), "--database", target)
    assert "checksums verified" in out and "restored" in out
    assert HEAD_FAMILY_NAME.lower() not in out.lower()

    source, restored = table_digests("default"), table_digests(target)
    assert sum(rows for rows, _ in source.values()) > 500
    assert {t for t, (rows, _) in source.items() if rows} >= {
        "core_operation",
        "gazetteer_adminarea",
        "tracking_populationfigure",
        "flows_flowcount",
        "flows_flowbreakdowntotal",
        "restrictions_pointofentry",
        "registration_individual",
        "core_apitoken",
    }
    assert restored == source
    assert table_names(target) == table_names("default")
    assert tree(machine_b / "uploads") == source_files
    assert {name: (machine_b / name).read_bytes() for name in source_keys} == source_keys
    assert not stale.exists()

    # The restored data opens with the restored keys, searches by keyed hash, and takes new rows.
    head = Individual.objects.using(target).get(reference="HH-BK-1-1")
    assert (head.given_name, head.family_name) == ("Fatima", HEAD_FAMILY_NAME)
    phone_hash = keyed_hash("+258841234567", "phone")
    assert Household.objects.using(target).filter(phone_hash=phone_hash).count() == 1
    newest = Operation.objects.using(target).order_by("-pk").first().pk
    added = Operation(name="Restored later", slug="restored-later", country_iso3="MOZ")
    added.save(using=target)
    assert added.pk > newest


def test_a_damaged_or_foreign_archive_is_refused_before_anything_changes(
    settings, machine_a, target, operation, tmp_path
):
    archive = backup_create(output=tmp_path / "good.tar.gz").path
    use_var(settings, tmp_path / "machine-b")

    def rewrite(name: str, change) -> Path:
        out = tmp_path / name
        with tarfile.open(archive) as src, tarfile.open(out, "w:gz") as dst:
            for member in src.getmembers():
                data = change(member.name, src.extractfile(member).read())
                if data is None:
                    continue
                member.size = len(data)
                dst.addfile(member, io.BytesIO(data))
        return out

    def flip_a_byte(name, data):
        return data[:5000] + bytes([data[5000] ^ 1]) + data[5001:] if name.startswith("database/") else data

    damaged = rewrite("damaged.tar.gz", flip_a_byte)
    member = backup.SQLITE_MEMBER if connection.vendor == "sqlite" else backup.PGDUMP_MEMBER
    with pytest.raises(CommandError, match=re.escape(CHECKSUM_MISMATCH.format(name=member))):
        run("restore", str(damaged), "--database", target)
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(CommandError, match="not a readable .tar.gz archive"):
        run("restore", str(truncated), "--database", target)
    no_manifest = rewrite("other.tar.gz", lambda name, data: None if name == "manifest.json" else data)
    with pytest.raises(CommandError, match=re.escape(NOT_A_BACKUP.format(path=no_manifest))):
        run("restore", str(no_manifest), "--database", target)
    smuggled = tmp_path / "smuggled.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(smuggled, "w:gz") as dst:
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member))
        info = tarfile.TarInfo("files/uploads/../../secret_key")
        info.size = 3
        dst.addfile(info, io.BytesIO(b"abc"))
    with pytest.raises(CommandError, match="unsafe name"):
        run("restore", str(smuggled), "--database", target)

    assert table_names(target) == set()
    assert not (tmp_path / "machine-b" / "uploads").exists()
    assert not (tmp_path / "machine-b" / "field_keys").exists()


def test_a_backup_from_newer_code_is_refused(settings, machine_a, target, operation, tmp_path):
    archive = backup_create(output=tmp_path / "good.tar.gz").path
    newer = tmp_path / "newer.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(newer, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == "manifest.json":
                manifest = json.loads(data)
                manifest["migrations"]["core"].append("0999_from_the_future")
                manifest["release"] = "0.9"
                data = json.dumps(manifest).encode()
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    use_var(settings, tmp_path / "machine-b")
    with pytest.raises(
        CommandError, match=r"newer code: .* migration core\.0999_from_the_future, .* \(0\.9\)"
    ):
        run("restore", str(newer), "--database", target)
    assert table_names(target) == set()


@pytest.fixture
def empty_backup(machine_a, tmp_path):
    """A backup of a database that is migrated and never used (the test database before any row)."""
    return backup_create(output=tmp_path / "empty.tar.gz").path


def test_a_database_in_use_is_replaced_only_with_yes(settings, machine_a, empty_backup, target, tmp_path):
    from mobility.core.services import operation_create
    from mobility.registration.crypto import hash_key, keyring

    operation = operation_create(name="Mozambique — Cabo Delgado", country_iso3="MOZ")
    keyring(), hash_key()  # machine a's laptop keys, in its var/
    (machine_a / "uploads" / "imports").mkdir(parents=True)
    (machine_a / "uploads" / "imports" / "a.csv").write_text("admin1_code\nMZ01\n")
    archive = backup_create(output=tmp_path / "a.tar.gz").path
    machine_b = use_var(settings, tmp_path / "machine-b")
    backup_restore(archive=empty_backup, using=target)  # a new server, set up and then used:
    Operation(name="Already here", slug="already-here", country_iso3="PAK").save(using=target)
    (machine_b / "uploads").mkdir(exist_ok=True)
    (machine_b / "uploads" / "kept-here.csv").write_text("x")
    (machine_b / "field_keys").write_text("the key of machine b")

    with pytest.raises(
        CommandError, match=r"already holds data \(1 tables have rows, e.g. core_operation\).*--yes"
    ):
        run("restore", str(archive), "--database", target)
    assert list(Operation.objects.using(target).values_list("slug", flat=True)) == ["already-here"]

    out = run("restore", str(archive), "--database", target, "--yes")
    assert "replacing the rows of 1 tables" in out
    assert list(Operation.objects.using(target).values_list("slug", flat=True)) == [operation.slug]
    assert tree(machine_b / "uploads") == tree(machine_a / "uploads")
    # What was replaced is moved aside, never deleted.
    (aside,) = machine_b.glob("replaced-*")
    assert (aside / "uploads" / "kept-here.csv").read_text() == "x"
    assert (aside / "field_keys").read_text() == "the key of machine b"
    assert (machine_b / "field_keys").read_bytes() == (machine_a / "field_keys").read_bytes()


def test_an_empty_migrated_database_takes_a_restore_without_yes(
    settings, machine_a, empty_backup, target, tmp_path
):
    from mobility.core.services import operation_create

    operation = operation_create(name="Mozambique — Cabo Delgado", country_iso3="MOZ")
    archive = backup_create(output=tmp_path / "a.tar.gz").path
    use_var(settings, tmp_path / "machine-b")
    backup_restore(archive=empty_backup, using=target)  # a new server, set up and never used
    assert table_names(target) == table_names("default")
    result = backup_restore(archive=archive, using=target)
    assert result.migrations_applied == []
    assert list(Operation.objects.using(target).values_list("slug", flat=True)) == [operation.slug]


def test_no_keys_leaves_the_keys_out_and_restore_says_so(settings, machine_a, target, operation, tmp_path):
    from mobility.registration.crypto import keyring

    keyring()  # the laptop key exists in var/
    out = run("backup", "--output", str(tmp_path / "k.tar.gz"), "--no-keys")
    assert "left out (--no-keys)" in out
    with tarfile.open(tmp_path / "k.tar.gz") as tar:
        assert not [n for n in tar.getnames() if n.startswith("keys/")]
    machine_b = use_var(settings, tmp_path / "machine-b")
    out = run("restore", str(tmp_path / "k.tar.gz"), "--database", target)
    assert "not in this archive (--no-keys)" in out
    assert not (machine_b / "field_keys").exists()


def test_a_failed_backup_leaves_no_archive_behind(machine_a, operation, tmp_path, monkeypatch):
    (machine_a / "uploads").mkdir()
    (machine_a / "uploads" / "a.csv").write_text("x")
    real_add = backup._add

    def add_then_fail(archive, name, path, members):
        if name.startswith(backup.FILES_PREFIX):
            raise OSError("disk full")
        return real_add(archive, name, path, members)

    monkeypatch.setattr(backup, "_add", add_then_fail)
    out_dir = tmp_path / "backups"
    with pytest.raises(OSError, match="disk full"):
        backup_create(output=out_dir / "b.tar.gz")
    assert list(out_dir.iterdir()) == []
    monkeypatch.setattr(backup, "_add", real_add)
    (out_dir / "b.tar.gz").write_text("an older archive")
    with pytest.raises(CommandError, match="already exists"):
        run("backup", "--output", str(out_dir / "b.tar.gz"))
    assert (out_dir / "b.tar.gz").read_text() == "an older archive"
    with pytest.raises(CommandError, match="inside the uploads folder"):
        run("backup", "--output", str(machine_a / "uploads") + "/")
    assert tree(machine_a / "uploads") == {"a.csv": hashlib.sha256(b"x").hexdigest()}


def test_missing_or_too_old_postgresql_tools_are_named(tmp_path, monkeypatch):
    old = tmp_path / "pg_dump"
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 13.4'\n")
    old.chmod(0o755)
    monkeypatch.setattr(backup, "PG_BIN_FOLDERS", ())
    server = type("Server", (), {"pg_version": 150020})()
    monkeypatch.setattr(backup.shutil, "which", lambda name: None)
    with pytest.raises(BackupError, match=re.escape(TOOL_MISSING.format(tool="pg_dump", major=15))):
        backup._pg_tool("pg_dump", server)
    monkeypatch.setattr(backup.shutil, "which", lambda name: str(old))  # 13 cannot dump a 15 server
    with pytest.raises(BackupError, match="postgresql-client-15"):
        backup._pg_tool("pg_dump", server)
    monkeypatch.setattr(backup, "PG_BIN_FOLDERS", (str(tmp_path / "pg16"),))
    (tmp_path / "pg16").mkdir()
    new = tmp_path / "pg16" / "pg_dump"
    new.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 16.2'\n")
    new.chmod(0o755)
    assert backup._pg_tool("pg_dump", server) == str(new)


def test_a_backup_inside_a_transaction_is_refused(machine_a, tmp_path):
    from django.db import transaction

    needs_pg_tools()
    with transaction.atomic(), pytest.raises(BackupError, match=IN_TRANSACTION):
        backup_create(output=tmp_path / "x.tar.gz")
    assert not (tmp_path / "x.tar.gz").exists()


def test_sqlite_backup_is_a_consistent_snapshot_while_a_writer_keeps_writing(tmp_path, settings):
    """A WAL database written every millisecond by another connection: the backup neither waits for the
    writer nor blocks it, and its manifest counts exactly the rows of the archived copy."""
    path = tmp_path / "live.sqlite3"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE reading (id INTEGER PRIMARY KEY, payload TEXT)")
    setup.executemany("INSERT INTO reading (payload) VALUES (?)", [("x" * 200,)] * 20_000)
    setup.commit()
    setup.close()
    config = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=20000;"},
    }
    register("live", config)
    settings.VAR_DIR, settings.MEDIA_ROOT = tmp_path / "var", tmp_path / "var" / "uploads"
    stop, written = threading.Event(), []

    def writer():
        db = sqlite3.connect(path, timeout=20)
        while not stop.is_set():
            db.execute("INSERT INTO reading (payload) VALUES ('y')")
            db.commit()
            written.append(time.monotonic())
        db.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 50:
            time.sleep(0.001)
        result = backup_create(output=tmp_path / "live.tar.gz", using="live", keys=False)
        time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
        unregister("live")
    with tarfile.open(result.path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        tar.extract(backup.SQLITE_MEMBER, tmp_path / "out", filter="data")
    copy = sqlite3.connect(tmp_path / "out" / backup.SQLITE_MEMBER)
    assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    archived = copy.execute("SELECT COUNT(*) FROM reading").fetchone()[0]
    assert manifest["row_counts"]["reading"] == archived >= 20_050
    assert archived < 20_000 + len(written)  # the writer went on after the snapshot
