"""Duplicates in an operation: dedup_run and dedup_incremental on the registry.

A seeded background registry (about 600 people in 150 households sharing family names, phones
and places) is bulk-inserted with encrypted fields (fast); the planted people are registered
through the real path (factories → households_write): the same woman with accents dropped and day
and month swapped (same phone: far above the match threshold), the same man in Latin and in
Arabic script, and a man registered again with only his birth year in another place (a pair in
the review band). Most tests score with a model trained once per module on the same records, so
each stays fast; one test trains through dedup_run itself.
"""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from django.core.management import call_command

from mobility.core.models import AuditEntry
from mobility.registration import dedup_app
from mobility.registration.crypto import keyed_hash
from mobility.registration.models import (
    DedupCluster,
    DedupModel,
    Household,
    Individual,
    MatchPair,
    RegistrationPolicy,
)
from mobility.registration.services import households_write

from .factories import household_rows, rows_to_items

pytestmark = pytest.mark.django_db

GIVEN_F = (
    "Maria Ana Joana Rosa Teresa Lúcia Isabel Helena Graça Luísa Marta Cecília Celeste Amélia Beatriz".split()
)
GIVEN_M = "João José António Manuel Carlos Francisco Alberto Armando Fernando Paulo Pedro Jorge Luís Ernesto".split()
GIVEN_AR_M = "Ahmad Ali Hassan Ibrahim Yusuf Omar Khalid Mustafa Idris Karim Tariq Bilal Hamza Salim".split()
GIVEN_AR_F = "Aisha Amina Khadija Maryam Zainab Salma Layla Nour Hafsa Halima Samira Yasmin".split()
FAMILY = (
    "Nhantumbo Sitoe Cossa Mondlane Chissano Tembe Mabunda Muianga Langa Massingue Cumbe Machava "
    "Matsinhe Chambal Mucavele Ngovene Bila Mahumane Zandamela Guambe Mazive Uamusse Tivane Nhaca "
    "Khan Shah Malik Qureshi Rahman Abbasi Siddiqui Haddad Saleh Osman Mansour Qasim Jaber Sharif"
).split()
PLACES = [f"MZ01{d:02d}{s:02d}" for d in range(1, 6) for s in range(1, 4)]

# The planted people (names the background registry never uses) and their second registrations.
FATIMA = {"given_name": "Fátima", "family_name": "Macuácua", "sex": "f", "date_of_birth": "1990-03-07"}
FATIMA_HOME = {"phone": "+258 84 555 1234", "location_pcode": "MZ010101"}
FATIMA_AGAIN = {"given_name": "FATIMA", "family_name": "Macuacua", "sex": "f", "date_of_birth": "1990-07-03"}
MUHAMMAD = {"given_name": "Mohammed", "family_name": "Hussein", "sex": "m", "date_of_birth": "1982-11-21"}
MUHAMMAD_HOME = {"location_pcode": "MZ010202"}
MUHAMMAD_ARABIC = {"given_name": "محمد", "family_name": "حسين", "sex": "m", "date_of_birth": "1982-11-21"}
FELISBERTO = {
    "given_name": "Felisberto",
    "family_name": "Nhamússua",
    "sex": "m",
    "date_of_birth": "1975-05-30",
}
FELISBERTO_HOME = {"phone": "+258 86 300 4000", "location_pcode": "MZ010303"}
FELISBERTO_AGAIN = {
    "given_name": "Felisberto",
    "family_name": "Nhamússua",
    "sex": "m",
    "date_of_birth": "1975",
}
FELISBERTO_ELSEWHERE = {"location_pcode": "MZ010501"}
PLANTED = {
    "fatima": (FATIMA, FATIMA_HOME, FATIMA_AGAIN, FATIMA_HOME),
    "muhammad": (MUHAMMAD, MUHAMMAD_HOME, MUHAMMAD_ARABIC, MUHAMMAD_HOME),
    "felisberto": (FELISBERTO, FELISBERTO_HOME, FELISBERTO_AGAIN, FELISBERTO_ELSEWHERE),
}
# What must never be found in a saved model (as written, and as the engine normalises it).
PERSONAL = (
    "Fátima", "FATIMA", "fatima", "Macuácua", "macuacua", "Mohammed", "mohammed", "Hussein", "hussein",
    "محمد", "حسين", "Felisberto", "felisberto", "Nhamússua", "nhamussua", "1990-03-07", "1982-11-21",
    "555 1234", "845551234", "300 4000",
)  # fmt: skip


# --- the registry ------------------------------------------------------------------------------


def _person(rng: random.Random) -> dict:
    arabic = rng.random() < 0.35
    sex = rng.choice("fm")
    pool = (GIVEN_AR_F if sex == "f" else GIVEN_AR_M) if arabic else (GIVEN_F if sex == "f" else GIVEN_M)
    year = rng.randint(1950, 2024)
    dob = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    return {"given_name": rng.choice(pool), "sex": sex, "date_of_birth": dob}


def background(seed: int = 11, households: int = 150) -> list[dict]:
    """Seeded households of 1-7 people sharing a family name, a phone (70 %) and a place."""
    rng = random.Random(seed)
    out = []
    for n in range(households):
        family = rng.choice(FAMILY)
        people: list[dict] = []
        for _ in range(rng.randint(1, 7)):
            person = _person(rng)
            while person["given_name"] in {p["given_name"] for p in people}:
                person = _person(rng)
            people.append({**person, "family_name": family})
        phone = f"+258 84 {rng.randint(100, 999)} {rng.randint(1000, 9999)}" if rng.random() < 0.7 else ""
        out.append(
            {"reference": f"BG-{n:04d}", "phone": phone, "location": rng.choice(PLACES), "people": people}
        )
    return out


def bulk_register(operation, households: list[dict]) -> None:
    """The background registry straight into the tables (encrypted fields, hashes): fast, no checks."""
    made = Household.objects.bulk_create(
        [
            Household(
                operation=operation,
                reference=h["reference"],
                size=len(h["people"]),
                location_pcode=h["location"],
                phone=h["phone"],
                phone_hash=keyed_hash(h["phone"], "phone") if h["phone"] else "",
                registered_on=dt.date(2026, 10, 1),
            )
            for h in households
        ]
    )
    if not all(h.pk for h in made):
        made = list(
            Household.objects.filter(operation=operation, reference__startswith="BG-").order_by("reference")
        )
    people = []
    for household, h in zip(made, households, strict=True):
        for i, p in enumerate(h["people"], start=1):
            people.append(
                Individual(
                    operation=operation,
                    household=household,
                    reference=f"{h['reference']}-{i}",
                    given_name=p["given_name"],
                    family_name=p["family_name"],
                    name_hash=keyed_hash(f"{p['given_name']} {p['family_name']}", "name"),
                    sex=p["sex"],
                    date_of_birth=p["date_of_birth"],
                    birth_year=int(p["date_of_birth"][:4]),
                    relationship="head" if i == 1 else "child",
                )
            )
    Individual.objects.bulk_create(people, batch_size=500)


def register(operation, key: str, person: dict, home: dict) -> int:
    """One person registered through the real path (a household of one); returns the individual's id."""
    rows = household_rows(key, head=person, household_size="1", **home)
    [pk] = households_write(operation=operation, items=rows_to_items(rows)).new_individual_ids
    return pk


@pytest.fixture
def registry(operation):
    """The background registry and the first registration of each planted person: {name: id}."""
    bulk_register(operation, background())
    return {
        key: register(operation, f"P-{key}", first, home) for key, (first, home, _a, _h) in PLANTED.items()
    }


def register_again(operation, key: str, suffix: str = "again") -> int:
    _first, _home, again, home = PLANTED[key]
    return register(operation, f"P-{key}-{suffix}", again, home)


@pytest.fixture
def duplicates(operation, registry):
    """Each planted person registered a second time: {name: (first id, second id)}."""
    return {key: (registry[key], register_again(operation, key)) for key in PLANTED}


def _frame():
    """The records dedup_run reads (as dedup_app._read builds them), without a database."""
    import polars as pl

    rows = []
    for h in background():
        for p in h["people"]:
            rows.append({**p, "phone": h["phone"], "location": h["location"]})
    for first, home, again, again_home in PLANTED.values():
        rows.append({**first, "phone": home.get("phone", ""), "location": home["location_pcode"]})
        rows.append({**again, "phone": again_home.get("phone", ""), "location": again_home["location_pcode"]})
    frame = pl.DataFrame(rows).with_columns(
        pl.int_range(pl.len()).cast(pl.Utf8).alias("unique_id"),
        pl.col("date_of_birth").str.slice(0, 4).cast(pl.Int32).alias("birth_year"),
        pl.lit("").alias("document_number"),
    )
    return frame


@pytest.fixture(scope="module")
def model() -> dict:
    """A model trained once on the same records (no database), saved by tests that need one."""
    from mobility.registration.dedup import engine

    table = engine.prepare(_frame(), dedup_app.MAPPING, id_column="unique_id")
    return engine.train(table)


@pytest.fixture
def saved_model(operation, model):
    return DedupModel.objects.create(operation=operation, version=1, settings_json=model, records=600)


def pair_of(a: int, b: int) -> MatchPair | None:
    return MatchPair.objects.filter(left_id=min(a, b), right_id=max(a, b)).first()


def cluster_of(pk: int) -> int | None:
    return Individual.objects.get(pk=pk).cluster_id


def pairs_snapshot(operation) -> list[tuple]:
    return list(
        MatchPair.objects.filter(operation=operation)
        .order_by("pk")
        .values_list("pk", "left_id", "right_id", "status")
    )


# --- full runs ---------------------------------------------------------------------------------


def test_a_run_trains_a_model_then_clusters_above_the_match_threshold_and_queues_the_band(
    operation, duplicates
):
    result = dedup_app.dedup_run(operation=operation)
    assert result.trained and result.model_version == 1
    assert result.records == Individual.objects.filter(operation=operation).count()
    saved = DedupModel.objects.get(operation=operation)
    assert saved.active and saved.version == 1 and saved.records == result.records
    pairs = MatchPair.objects.filter(operation=operation)
    assert pairs.count() == result.pairs_found > 0
    for pair in pairs:
        assert pair.left_id < pair.right_id
        assert pair.match_probability >= 0.5
        expected = MatchPair.Status.AUTO if pair.match_probability >= 0.9 else MatchPair.Status.PENDING
        assert pair.status == expected, (pair.match_probability, pair.status)
        assert {"given_name", "family_name", "date_of_birth"} <= set(pair.comparisons)
        for detail in pair.comparisons.values():
            assert set(detail) == {"level", "weight", "agrees"}
    fatima = pair_of(*duplicates["fatima"])
    assert fatima.status == MatchPair.Status.AUTO
    assert fatima.comparisons["date_of_birth"]["level"] == "day and month swapped"
    assert cluster_of(duplicates["fatima"][0]) == cluster_of(duplicates["fatima"][1]) is not None
    muhammad = pair_of(*duplicates["muhammad"])
    assert muhammad.comparisons["given_name"]["agrees"] and muhammad.comparisons["family_name"]["agrees"]
    felisberto = pair_of(*duplicates["felisberto"])
    assert felisberto.status == MatchPair.Status.PENDING
    assert cluster_of(duplicates["felisberto"][0]) is None is cluster_of(duplicates["felisberto"][1])
    assert result.pending == pairs.filter(status=MatchPair.Status.PENDING).count() >= 1
    assert result.auto == pairs.filter(status=MatchPair.Status.AUTO).count() >= 1
    # a cluster holds two records or more; a record alone is in none
    assert result.clusters == DedupCluster.objects.filter(operation=operation).count()
    assert all(c.members.count() >= 2 for c in DedupCluster.objects.filter(operation=operation))
    assert Individual.objects.get(pk=duplicates["fatima"][1]).match_probability == pytest.approx(
        fatima.match_probability
    )
    entry = AuditEntry.objects.get(action="registration.dedup_run")
    assert entry.detail["pairs_found"] == result.pairs_found
    assert entry.detail["clusters"] == result.clusters


def test_a_run_on_a_new_operation_saves_the_starting_model_and_the_next_registration_is_matched(
    operation, django_capture_on_commit_callbacks
):
    first = register(operation, "P-fatima", FATIMA, FATIMA_HOME)
    result = dedup_app.dedup_run(operation=operation)
    assert (result.records, result.trained, result.pairs_found, result.clusters) == (1, True, 0, 0)
    with django_capture_on_commit_callbacks(execute=True):
        second = register_again(operation, "fatima")
        dedup_app.after_households_written(operation, [second])
    pair = pair_of(first, second)
    assert pair is not None and pair.match_probability >= 0.9
    assert cluster_of(first) == cluster_of(second) is not None


def test_the_saved_model_holds_m_and_u_but_no_personal_value(operation, duplicates):
    dedup_app.dedup_run(operation=operation)
    text = json.dumps(DedupModel.objects.get(operation=operation).settings_json, ensure_ascii=False)
    assert "m_probability" in text and "u_probability" in text
    found = [value for value in PERSONAL if value in text]
    assert found == []
    names = {p["family_name"] for h in background() for p in h["people"]}
    assert [n for n in names if n in text or n.lower() in text] == []


def test_the_band_and_the_match_threshold_come_from_the_operation_policy(operation, duplicates, saved_model):
    RegistrationPolicy.objects.create(operation=operation, match_threshold=0.999999, review_threshold=0.5)
    dedup_app.dedup_run(operation=operation)
    assert pair_of(*duplicates["fatima"]).status == MatchPair.Status.PENDING
    assert cluster_of(duplicates["fatima"][0]) is None


def test_a_rerun_adds_no_pair_and_keeps_cluster_ids_even_with_a_new_model(operation, duplicates, saved_model):
    first = dedup_app.dedup_run(operation=operation)
    assert not first.trained
    before = pairs_snapshot(operation)
    clusters = {pk: cluster_of(pk) for pair in duplicates.values() for pk in pair}
    again = dedup_app.dedup_run(operation=operation)
    assert pairs_snapshot(operation) == before
    assert (again.pairs_created, again.pairs_updated, again.pairs_removed, again.clusters_created) == (
        0,
        0,
        0,
        0,
    )
    retrained = dedup_app.dedup_run(operation=operation, retrain=True)
    assert retrained.trained and retrained.model_version == 2
    assert list(
        DedupModel.objects.filter(operation=operation, active=True).values_list("version", flat=True)
    ) == [2]
    assert {pk: cluster_of(pk) for pk in clusters} == clusters
    assert [p[:3] for p in pairs_snapshot(operation)] == [p[:3] for p in before]


def test_not_duplicate_is_remembered_and_never_clustered_together(operation, duplicates, saved_model):
    dedup_app.dedup_run(operation=operation)
    band = pair_of(*duplicates["felisberto"])
    auto = pair_of(*duplicates["fatima"])
    # as the review page does: the reviewer's decision on the pair itself
    MatchPair.objects.filter(pk__in=[band.pk, auto.pk]).update(status=MatchPair.Status.NOT_DUPLICATE)
    Individual.objects.filter(pk__in=duplicates["fatima"]).update(cluster=None, match_probability=None)
    result = dedup_app.dedup_run(operation=operation)
    assert result.decided == 2
    assert pair_of(*duplicates["felisberto"]).status == MatchPair.Status.NOT_DUPLICATE
    assert pair_of(*duplicates["fatima"]).status == MatchPair.Status.NOT_DUPLICATE
    assert (
        MatchPair.objects.filter(operation=operation, status=MatchPair.Status.PENDING)
        .exclude(pk__in=[band.pk, auto.pk])
        .count()
        == result.pending
    )
    first, second = duplicates["fatima"]
    assert cluster_of(first) is None and cluster_of(second) is None
    # A third registration matching both cannot bring the two together: it joins one of them and the
    # other pair waits for a reviewer.
    third = register_again(operation, "fatima", "third")
    dedup_app.dedup_run(operation=operation)
    assert cluster_of(first) != cluster_of(second)
    statuses = sorted([pair_of(first, third).status, pair_of(second, third).status])
    assert statuses == [MatchPair.Status.AUTO, MatchPair.Status.PENDING]


def test_a_duplicate_decision_links_the_two_records_whatever_the_score(operation, duplicates, saved_model):
    dedup_app.dedup_run(operation=operation)
    band = pair_of(*duplicates["felisberto"])
    MatchPair.objects.filter(pk=band.pk).update(status=MatchPair.Status.DUPLICATE)
    dedup_app.dedup_run(operation=operation)
    assert pair_of(*duplicates["felisberto"]).status == MatchPair.Status.DUPLICATE
    first, second = duplicates["felisberto"]
    assert cluster_of(first) == cluster_of(second) is not None


def test_undecided_pairs_the_model_no_longer_proposes_are_removed_decided_ones_kept(
    operation, duplicates, saved_model
):
    dedup_app.dedup_run(operation=operation)
    a, b, c = Individual.objects.filter(operation=operation, reference__startswith="BG-0001")[:3]
    stale = MatchPair.objects.create(
        operation=operation, left=a, right=b, match_probability=0.6, match_weight=1.0, comparisons={}
    )
    kept = MatchPair.objects.create(
        operation=operation,
        left=a,
        right=c,
        match_probability=0.6,
        match_weight=1.0,
        comparisons={},
        status=MatchPair.Status.NOT_DUPLICATE,
    )
    result = dedup_app.dedup_run(operation=operation)
    assert result.pairs_removed == 1
    assert not MatchPair.objects.filter(pk=stale.pk).exists()
    assert MatchPair.objects.get(pk=kept.pk).status == MatchPair.Status.NOT_DUPLICATE


def test_a_merge_keeps_its_cluster_through_a_rerun_and_can_still_be_undone(
    operation, duplicates, saved_model, data_manager
):
    from mobility.registration import review

    dedup_app.dedup_run(operation=operation)
    first, second = duplicates["felisberto"]
    record = review.merge(
        survivor=Individual.objects.get(pk=first),
        merged=Individual.objects.get(pk=second),
        by=data_manager,
        pair=pair_of(first, second),
    )
    cluster = cluster_of(first)
    assert cluster is not None and cluster_of(second) == cluster
    result = dedup_app.dedup_run(operation=operation)  # the merged record is not read: the survivor is alone
    assert result.records == Individual.objects.filter(operation=operation, merged_into__isnull=True).count()
    assert cluster_of(first) == cluster == cluster_of(second)
    assert pair_of(first, second).status == MatchPair.Status.MERGED
    review.merge_undo(merge=record, by=data_manager)
    assert Individual.objects.get(pk=second).merged_into_id is None


# --- incremental -------------------------------------------------------------------------------


def test_a_new_registration_joins_the_existing_cluster_which_keeps_its_id(
    operation, duplicates, saved_model, django_capture_on_commit_callbacks
):
    dedup_app.dedup_run(operation=operation)
    first, second = duplicates["fatima"]
    cluster = cluster_of(first)
    assert cluster is not None
    runs_before = AuditEntry.objects.filter(action="registration.dedup_run").count()
    with django_capture_on_commit_callbacks(execute=True):
        third = register_again(operation, "fatima", "third")
        dedup_app.after_households_written(operation, [third])
    entry = AuditEntry.objects.get(action="registration.dedup_incremental")
    assert entry.detail["records"] == 1 and entry.detail["clusters_created"] == 0
    assert AuditEntry.objects.filter(action="registration.dedup_run").count() == runs_before  # no full run
    assert cluster_of(third) == cluster
    assert Individual.objects.get(pk=third).match_probability >= 0.9
    assert pair_of(first, third).status == MatchPair.Status.AUTO
    assert DedupModel.objects.filter(operation=operation).count() == 1  # no retraining
    # a full re-run keeps the cluster's id too
    dedup_app.dedup_run(operation=operation)
    assert {cluster_of(first), cluster_of(second), cluster_of(third)} == {cluster}


def test_a_new_registration_in_the_band_waits_for_review(operation, registry, saved_model):
    dedup_app.dedup_run(operation=operation)
    new = register_again(operation, "felisberto")
    result = dedup_app.dedup_incremental(operation=operation, individual_ids=[new])
    pair = pair_of(registry["felisberto"], new)
    assert pair.status == MatchPair.Status.PENDING
    assert result.pending >= 1 and result.auto == 0
    assert cluster_of(new) is None
    again = dedup_app.dedup_incremental(operation=operation, individual_ids=[new])
    assert again.pairs_created == 0
    assert MatchPair.objects.filter(left_id=pair.left_id, right_id=pair.right_id).count() == 1


def test_a_new_registration_matching_a_record_alone_makes_a_new_cluster(operation, registry, saved_model):
    dedup_app.dedup_run(operation=operation)
    assert cluster_of(registry["fatima"]) is None
    new = register_again(operation, "fatima")
    result = dedup_app.dedup_incremental(operation=operation, individual_ids=[new])
    assert result.clusters_created == 1
    assert cluster_of(new) == cluster_of(registry["fatima"]) is not None


@pytest.fixture
def registry_in_memory(monkeypatch):
    """Keep the prepared registry in memory whatever its size (as for a large operation)."""
    monkeypatch.setattr(dedup_app, "CACHE_MIN_RECORDS", 0)
    dedup_app.registry_forget()
    reads = []
    real = dedup_app._read
    monkeypatch.setattr(dedup_app, "_read", lambda queryset: reads.append(queryset) or real(queryset))
    yield reads
    dedup_app.registry_forget()


def test_a_large_registry_is_kept_prepared_and_brought_up_to_date_from_what_changed(
    operation, registry, saved_model, registry_in_memory
):
    reads = registry_in_memory
    dedup_app.dedup_run(operation=operation)  # reads everything once and keeps it
    assert len(reads) == 1
    first = register_again(operation, "fatima")
    result = dedup_app.dedup_incremental(operation=operation, individual_ids=[first])
    assert len(reads) == 2  # only the records changed since: the new one
    assert cluster_of(first) == cluster_of(registry["fatima"]) is not None and result.clusters_created == 1
    # A record corrected since (its name now that of the planted man) is compared with its new name.
    corrected = Individual.objects.get(operation=operation, reference="BG-0002-1")
    corrected.given_name, corrected.family_name = FELISBERTO["given_name"], FELISBERTO["family_name"]
    corrected.date_of_birth, corrected.birth_year = FELISBERTO["date_of_birth"], 1975
    corrected.sex = "m"
    corrected.save()
    new = register_again(operation, "felisberto")
    dedup_app.dedup_incremental(operation=operation, individual_ids=[new])
    assert len(reads) == 3
    assert pair_of(corrected.pk, new).match_probability == pytest.approx(
        pair_of(registry["felisberto"], new).match_probability, abs=0.2
    )
    # A record deleted without a trace (no timestamp): the count disagrees and everything is read again.
    gone = Individual.objects.get(operation=operation, reference="BG-0003-1")
    Individual.objects.filter(pk=gone.pk).delete()
    before = len(reads)
    third = register_again(operation, "muhammad")
    dedup_app.dedup_incremental(operation=operation, individual_ids=[third])
    assert (
        reads[-1].count() == Individual.objects.filter(operation=operation, merged_into__isnull=True).count()
    )
    assert len(reads) == before + 2  # the changes, then the full read
    table = dedup_app._REGISTRY[operation.pk].table
    assert str(gone.pk) not in table["unique_id"].to_list()
    assert table.height == Individual.objects.filter(operation=operation).count()


def test_without_a_saved_model_incremental_matching_does_nothing(
    operation, registry, django_capture_on_commit_callbacks
):
    new = register_again(operation, "fatima")
    result = dedup_app.dedup_incremental(operation=operation, individual_ids=[new])
    assert result.skipped == "no model"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        dedup_app.after_households_written(operation, [new])
    assert len(callbacks) == 1
    assert not MatchPair.objects.filter(operation=operation).exists()
    assert not DedupCluster.objects.filter(operation=operation).exists()
    assert not AuditEntry.objects.filter(action__startswith="registration.dedup").exists()


def test_after_households_written_queues_a_job_when_jobs_are_not_synchronous(
    operation, registry, saved_model, settings, django_capture_on_commit_callbacks, monkeypatch
):
    from mobility.registration import tasks

    calls = []
    monkeypatch.setattr(tasks, "dedup_incremental_task", lambda *args: calls.append(args))
    settings.SYNC_JOBS = False
    new = register_again(operation, "fatima")
    with django_capture_on_commit_callbacks(execute=True):
        dedup_app.after_households_written(operation, [new])
        assert calls == []  # only after the commit
    assert calls == [(operation.pk, [new])]


# --- the command -------------------------------------------------------------------------------


def test_the_command_prints_the_counts(operation, duplicates, saved_model, capsys):
    call_command("registration", "dedup-run", "--operation", operation.slug, "--quiet")
    out = capsys.readouterr().out
    pending = MatchPair.objects.filter(status=MatchPair.Status.PENDING).count()
    assert f"pending review {pending}," in out
    assert f"clusters {DedupCluster.objects.count()} " in out
    assert not any(value in out for value in PERSONAL)


def test_the_command_names_the_operations_when_the_slug_is_unknown(operation):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match=operation.slug):
        call_command("registration", "dedup-run", "--operation", "nowhere")


def _stored(operation) -> tuple[list, list]:
    pairs = list(
        MatchPair.objects.filter(operation=operation)
        .order_by("left_id", "right_id")
        .values_list("left_id", "right_id", "status", "match_probability", "comparisons")
    )
    members: dict[int, list[int]] = {}
    for pk, cluster in Individual.objects.filter(operation=operation, cluster__isnull=False).values_list(
        "pk", "cluster_id"
    ):
        members.setdefault(cluster, []).append(pk)
    return pairs, sorted(sorted(m) for m in members.values())


def test_the_bulk_paths_of_a_large_run_store_what_the_small_paths_store(
    operation, duplicates, saved_model, monkeypatch
):
    """A million records read with the bulk decryption and written with COPY (PostgreSQL) and a
    temporary table: the same pairs and clusters as the row-by-row paths of a small run."""
    from mobility.registration import crypto

    dedup_app.dedup_run(operation=operation)
    small = _stored(operation)
    assert len(small[0]) > 1 and len(small[1]) > 1  # each bulk path has more than BATCH rows
    MatchPair.objects.filter(operation=operation).delete()
    Individual.objects.filter(operation=operation).update(cluster=None, match_probability=None)
    DedupCluster.objects.filter(operation=operation).delete()
    monkeypatch.setattr(crypto, "BULK_MIN", 10)
    monkeypatch.setattr(dedup_app, "BATCH", 1)
    monkeypatch.setattr(dedup_app, "CLUSTERS_READ_ALL", 1)
    seen = []
    original = crypto.Keyring.decrypt_many
    monkeypatch.setattr(
        crypto.Keyring,
        "decrypt_many",
        lambda self, tokens, aad: seen.append(aad) or original(self, tokens, aad),
    )
    result = dedup_app.dedup_run(operation=operation)
    assert "registration.individual.given_name" in seen
    assert _stored(operation) == small
    assert result.pairs_created == len(small[0]) and result.clusters == len(small[1])
    # a re-run through the same paths changes nothing
    again = dedup_app.dedup_run(operation=operation)
    assert (again.pairs_created, again.pairs_updated, again.clusters_created) == (0, 0, 0)
    assert _stored(operation) == small


def test_bulk_decryption_gives_what_decrypt_gives_and_refuses_a_bad_token(monkeypatch):
    from mobility.registration import crypto

    monkeypatch.setattr(crypto, "BULK_MIN", 4)
    ring = crypto.keyring()
    older = crypto.Keyring([crypto.decode_key(crypto.new_key()), ring.current])  # rotation under way
    aad = "registration.individual.given_name"
    values = ["Fátima", "", "محمد", "Mohammed Hussein", "", "1990-03-07"] * 5
    tokens = [ring.encrypt(v, aad) if v else v for v in values] + [None]
    tokens[3] = older.encrypt("Mohammed Hussein", aad)  # sealed with the newer key of the two
    assert older.decrypt_many(tokens, aad) == [*values, ""]
    assert ring.decrypt_many(tokens[4:], aad) == [*values[4:], ""]
    for bad in (ring.encrypt("Fátima", "registration.individual.family_name"), "g1.!!!!", "plain"):
        with pytest.raises(crypto.DecryptionError) as caught:
            ring.decrypt_many([*tokens[4:10], bad], aad)
        assert caught.value.column == aad and "Fátima" not in str(caught.value)
