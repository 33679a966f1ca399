"""Upgrading from the previous release: a database at release 0.7's schema, holding rows written by that
release's models, migrates to this code with its data intact, in place or through a backup and restore."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connections
from django.db.migrations.executor import MigrationExecutor

from mobility.core.backup import MIGRATE_FILLS, backup_create, backup_restore
from mobility.core.releases import CURRENT, PREVIOUS, RELEASES, release_of, release_targets
from mobility.registration.crypto import TOKEN_PREFIX, keyed_hash, reset_keys
from tests.core.databases import blank_database, table_names
from tests.core.test_backup import needs_pg_tools

pytestmark = pytest.mark.django_db(transaction=True)

OVERRIDE_REASON = "Card lost in the fire at the transit centre; the head of household is in hospital"
PHONE = "+258841230001"
# Derived tables a migration on the way rebuilds from the rows they summarise: their row counts may change.
# Django's migrate itself writes the migration records, content types and permissions of new models.
DERIVED = {"flows_flowbreakdown", *MIGRATE_FILLS}


@pytest.fixture
def laptop(settings, tmp_path, monkeypatch):
    """var/ of the machine being upgraded, with its own laptop keys."""
    monkeypatch.delenv("MOBILITY_FIELD_KEYS", raising=False)
    monkeypatch.delenv("MOBILITY_HASH_KEY", raising=False)
    settings.VAR_DIR = tmp_path / "var"
    settings.MEDIA_ROOT = tmp_path / "var" / "uploads"
    settings.FLOWS_ANALYTICS_DIR = tmp_path / "var" / "analytics" / "flows"
    settings.VAR_DIR.mkdir()
    reset_keys()
    yield settings.VAR_DIR
    reset_keys()


@pytest.fixture
def release_0_7(transactional_db, laptop, tmp_path):
    """A database migrated to the previous release and filled through that release's models."""
    with blank_database("release_0_7", tmp_path) as alias:
        executor = MigrationExecutor(connections[alias])
        targets = release_targets(PREVIOUS, executor.loader.graph)
        executor.migrate(targets)
        fill_previous_release(executor.loader.project_state(targets).apps, alias)
        yield alias


def fill_previous_release(apps, alias: str) -> None:
    """Representative rows of every app, written with the historical models (not today's)."""

    def make(label: str, **fields):
        return apps.get_model(label).objects.using(alias).create(**fields)

    user = make("auth.User", username="imo", password="!")
    operation = make("core.Operation", name="Mozambique — Cabo Delgado", slug="moz-cd", country_iso3="MOZ")
    make("core.Membership", user=user, operation=operation, role="data_manager")
    round_1 = make(
        "core.Round",
        operation=operation,
        number=1,
        start_date=dt.date(2024, 3, 1),
        end_date=dt.date(2024, 3, 31),
    )
    assessment = make(
        "tracking.Assessment",
        operation=operation,
        round=round_1,
        assessment_type="BA",
        place_key="MZ0101",
        country_iso3="MOZ",
        admin_level=2,
        reporting_date=dt.date(2024, 3, 20),
    )
    make("tracking.PopulationFigure", assessment=assessment, population_group="IDP", individuals=540)
    make("publishing.Release", operation=operation, round=round_1, reporting_round=1)
    version = make(
        "gazetteer.GazetteerVersion",
        country_iso3="MOZ",
        edition="OCHA COD 2019",
        valid_from=dt.date(2019, 1, 1),
    )
    make(
        "gazetteer.AdminArea",
        version=version,
        country_iso3="MOZ",
        pcode="MZ01",
        level=1,
        name="Cabo Delgado",
        name_normalized="cabo delgado",
    )
    make(
        "restrictions.PointOfEntry",
        operation=operation,
        code="MOZ-RG",
        name="Ressano Garcia",
        type="land_border",
        country_iso3="MOZ",
    )
    make("collection.Form", operation=operation, xml_form_id="moz_fmp_counts", title="Flow counts")
    fmp1 = make(
        "flows.FlowMonitoringPoint", operation=operation, code="MOZ-FMP-001", name="Palma", country_iso3="MOZ"
    )
    fmp2 = make(
        "flows.FlowMonitoringPoint",
        operation=operation,
        code="MOZ-FMP-002",
        name="Negomano",
        country_iso3="MOZ",
    )
    counts = [
        (fmp1, "R1", dt.date(2024, 3, 1), "in", "MOZ", 10),
        (fmp2, "R1", dt.date(2024, 3, 1), "in", "MOZ", 5),
        (fmp1, "R2", dt.date(2024, 3, 2), "out", "ZAF", 7),
    ]
    for fmp, record, date, direction, nationality, individuals in counts:
        make(
            "flows.FlowCount",
            operation=operation,
            fmp=fmp,
            record_id=record,
            date=date,
            direction=direction,
            nationality=nationality,
            individuals=individuals,
        )
        # 0.7 kept one breakdown row per point, day, direction and value.
        make(
            "flows.FlowBreakdown",
            operation=operation,
            fmp=fmp,
            date=date,
            direction=direction,
            dimension="nationality",
            value=nationality,
            records=1,
            individuals=individuals,
        )
    item = make("registration.Item", operation=operation, code="NFI-KIT", name="Non-food item kit")
    household = make(
        "registration.Household",
        operation=operation,
        reference="HH-0001",
        size=3,
        registered_on=dt.date(2024, 3, 4),
        phone=PHONE,
        phone_hash=keyed_hash(PHONE, "phone"),
    )
    make(
        "registration.Individual",
        operation=operation,
        household=household,
        reference="HH-0001-1",
        relationship="head",
        given_name="Amina",
        family_name="Saide",
    )
    make(
        "registration.Distribution",
        operation=operation,
        household=household,
        item=item,
        quantity=1,
        distributed_on=dt.date(2024, 3, 5),
        reference="D-1",
        override_reason=OVERRIDE_REASON,
    )


def assert_upgraded_with_data_intact(alias: str, counts_before: dict[str, int]) -> None:
    from mobility.flows.models import FlowBreakdown, FlowBreakdownTotal, FlowCount
    from mobility.registration.models import Distribution, Household, Individual
    from mobility.tracking.models import PopulationFigure

    db = connections[alias]
    executor = MigrationExecutor(db)
    assert not executor.migration_plan(executor.loader.graph.leaf_nodes()), "not fully migrated"
    after = row_counts(alias)
    changed = {
        t: (n, after.get(t)) for t, n in counts_before.items() if t not in DERIVED and after.get(t) != n
    }
    assert not changed, f"rows lost or added by the upgrade (before, after): {changed}"

    assert sorted(FlowCount.objects.using(alias).values_list("fmp__code", "date", "individuals")) == [
        ("MOZ-FMP-001", dt.date(2024, 3, 1), 10),
        ("MOZ-FMP-001", dt.date(2024, 3, 2), 7),
        ("MOZ-FMP-002", dt.date(2024, 3, 1), 5),
    ]
    # flows 0002 summed the stored breakdowns into operation-wide totals.
    total = FlowBreakdownTotal.objects.using(alias).get(dimension="nationality", value="MOZ", direction="in")
    assert (total.date, total.records, total.individuals) == (dt.date(2024, 3, 1), 2, 15)
    by_nationality = FlowBreakdown.objects.using(alias).filter(dimension="nationality")
    assert sum(by_nationality.values_list("individuals", flat=True)) == 22

    # registration 0003 encrypted the override reason already stored as plain text.
    with db.cursor() as cursor:
        cursor.execute("SELECT override_reason FROM registration_distribution")
        (stored,) = cursor.fetchone()
    assert stored.startswith(TOKEN_PREFIX) and "hospital" not in stored
    assert Distribution.objects.using(alias).get(reference="D-1").override_reason == OVERRIDE_REASON
    household = Household.objects.using(alias).get(reference="HH-0001")
    assert household.phone == PHONE
    assert Household.objects.using(alias).filter(phone_hash=keyed_hash(PHONE, "phone")).get() == household
    assert Individual.objects.using(alias).get(reference="HH-0001-1").given_name == "Amina"
    figure = PopulationFigure.objects.using(alias).get()
    assert (figure.assessment.place_key, figure.individuals) == ("MZ0101", 540)


def row_counts(alias: str) -> dict[str, int]:
    db = connections[alias]
    with db.cursor() as cursor:
        out = {}
        for table in sorted(db.introspection.table_names(cursor)):
            cursor.execute(f"SELECT COUNT(*) FROM {db.ops.quote_name(table)}")  # noqa: S608 (schema names)
            out[table] = cursor.fetchone()[0]
    return out


def test_the_releases_name_migrations_this_code_has_in_order():
    executor = MigrationExecutor(connections["default"])
    graph = executor.loader.graph
    assert list(RELEASES) == [PREVIOUS, CURRENT]
    for name, state in RELEASES.items():
        for app, migration in state.items():
            assert (app, migration) in graph.nodes, f"release {name}: {app}.{migration} is not on disk"
    previous = {n for t in release_targets(PREVIOUS, graph) for n in graph.forwards_plan(t)}
    current = {n for t in release_targets(CURRENT, graph) for n in graph.forwards_plan(t)}
    assert previous < current
    assert release_of({a: [m] for a, m in [("core", "0001_initial")]}, graph) == ""


def test_a_database_of_the_previous_release_migrates_with_its_data(release_0_7):
    before = row_counts(release_0_7)
    assert "flows_flowbreakdowntotal" not in before and before["registration_distribution"] == 1
    executor = MigrationExecutor(connections[release_0_7])
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert_upgraded_with_data_intact(release_0_7, before)


@pytest.mark.heavy  # about 25 s on SQLite, 45 s on PostgreSQL on a busy 2-core machine
def test_a_backup_of_the_previous_release_restores_and_upgrades(release_0_7, tmp_path):
    needs_pg_tools()
    before = row_counts(release_0_7)
    archive = backup_create(output=tmp_path / "release-0.7.tar.gz", using=release_0_7).path
    with blank_database("upgraded", tmp_path) as target:
        result = backup_restore(archive=archive, using=target)
        assert result.manifest["release"] == PREVIOUS
        assert {
            "flows.0002_summaries_incremental_totals",
            "registration.0002_assistance_publication",
            "registration.0003_protection_override_reason",
            "collection.0003_registration_target",
        } <= set(result.migrations_applied)
        assert table_names(target) >= table_names(release_0_7) | {"flows_flowbreakdowntotal"}
        assert_upgraded_with_data_intact(target, before)
