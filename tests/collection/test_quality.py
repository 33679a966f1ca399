"""Quality flags on arrival: GPS outside the stated area, too short, duplicate content, outliers."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
import shapely

from mobility.collection import quality
from mobility.collection.models import Submission
from mobility.collection.services import form_publish, submission_receive
from mobility.gazetteer.models import AdminArea
from tests.gazetteer.gazetteer_fixtures import (  # noqa: F401
    DATA,
    load_gazetteer,
    moz_gazetteer_fixture,
    pak_gazetteer_fixture,
)

from .forms import instance_xml, simple_xlsform

pytestmark = pytest.mark.django_db

NAME_MARKER = "Zacarias Marker-7731"
INCOME_MARKER = 987654321
EXTRA = [
    ["text", "admin2", "District", "Distrito", ""],
    ["integer", "monthly_income", "Monthly income", "Renda mensal", "yes"],
]


@pytest.fixture(autouse=True)
def _fresh_caches():
    quality.geography_forget()
    quality.summary_forget()
    yield
    quality.geography_forget()
    quality.summary_forget()


def publish(operation, by=None):
    return form_publish(
        operation=operation, data=simple_xlsform(extra=EXTRA), filename="household_visit.xlsx", by=by
    )


def receive(
    operation,
    instance_id,
    *,
    area="",
    gps="-12.97 40.52 0 5",
    people=4,
    income=1200,
    minutes=20,
    name=NAME_MARKER,
    by=None,
    deprecated="",
):
    start = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)
    raw = instance_xml(
        instance_id,
        people=people,
        gps=gps,
        name=name,
        deprecated=deprecated,
        start=start.isoformat(),
        end=(start + dt.timedelta(minutes=minutes)).isoformat(),
    ).replace(b"<meta>", f"<admin2>{area}</admin2><monthly_income>{income}</monthly_income><meta>".encode())
    return submission_receive(operation=operation, raw=raw, by=by).submission


def codes(submission) -> list[str]:
    submission.refresh_from_db()
    return [f["code"] for f in submission.flags]


def messages(submission) -> str:
    submission.refresh_from_db()
    return " | ".join(f["message"] for f in submission.flags)


def gps_in(pcode: str) -> str:
    geometry = AdminArea.objects.get(version__is_current=True, pcode=pcode).geometry
    point = shapely.from_geojson(geometry).representative_point()
    return f"{point.y} {point.x} 0 5"


@pytest.fixture
def moz_districts(moz_gazetteer):
    """The MOZ gazetteer with Cabo Delgado's district boundaries (geoBoundaries, joined by name)."""
    features = json.loads((DATA / "moz_adm2_geoboundaries_simplified.geojson").read_text(encoding="utf-8"))
    shapes = {f["properties"]["shapeName"]: f["geometry"] for f in features["features"]}
    areas = list(AdminArea.objects.filter(version=moz_gazetteer, level=2, pcode__startswith="MZ01"))
    for area in areas:
        area.geometry = json.dumps(shapes.get(area.name) or shapes[f"Cidade De {area.name}"])
    AdminArea.objects.bulk_update(areas, ["geometry"])
    return moz_gazetteer


# ---------------------------------------------------------------- GPS


def test_gps_in_another_district_names_the_district_it_lies_in(operation, moz_districts):
    publish(operation)
    ancuabe = AdminArea.objects.get(version=moz_districts, pcode="MZ0101")
    stated = AdminArea.objects.get(version=moz_districts, pcode="MZ0105")
    s = receive(operation, "uuid:gps-1", area="MZ0105", gps=gps_in("MZ0101"))
    assert codes(s) == ["gps_outside_area"]
    assert s.flags[0]["message"] == (
        f"GPS point lies in MZ0101 {ancuabe.name}, not in the stated MZ0105 {stated.name}"
    )


def test_gps_inside_the_stated_district_or_its_posto_is_not_flagged(operation, moz_districts):
    publish(operation)
    in_district = receive(operation, "uuid:gps-2", area="MZ0101", gps=gps_in("MZ0101"))
    # A posto (admin3) has no boundary of its own: its district's boundary bounds it.
    in_posto = receive(operation, "uuid:gps-3", area="MZ010101", gps=gps_in("MZ0101"))
    assert codes(in_district) == [] and codes(in_posto) == []


def test_a_posto_is_checked_against_its_district_boundary(operation, moz_districts):
    publish(operation)
    s = receive(operation, "uuid:gps-4", area="MZ010101", gps=gps_in("MZ0102"))
    assert codes(s) == ["gps_outside_area"]
    assert "lies in MZ0102" in s.flags[0]["message"] and "MZ010101" in s.flags[0]["message"]


def test_gps_in_the_sea_lies_in_no_area(operation, moz_districts):
    publish(operation)
    s = receive(operation, "uuid:gps-5", area="MZ0101", gps="-13.0 42.5 0 5")  # Mozambique Channel
    assert codes(s) == ["gps_outside_area"]
    assert "in no area with a boundary" in s.flags[0]["message"]


def test_no_boundary_no_flag_and_no_error(operation, moz_gazetteer):
    publish(operation)
    s = receive(operation, "uuid:gps-6", area="MZ0105", gps="33.7 73.0 0 5")  # Islamabad, far away
    assert codes(s) == []


def test_no_gazetteer_or_unknown_pcode_no_flag(operation, moz_districts):
    publish(operation)
    assert codes(receive(operation, "uuid:gps-7", area="XX9999", gps="33.7 73.0 0 5")) == []
    AdminArea.objects.all().delete()
    quality.geography_forget()
    assert codes(receive(operation, "uuid:gps-8", area="MZ0105", gps="33.7 73.0 0 5")) == []


def test_pakistan_district_is_bounded_by_its_tehsils(other_operation, pak_gazetteer):
    publish(other_operation)
    bagh_tehsil = AdminArea.objects.filter(version=pak_gazetteer, pcode__startswith="PK101", level=3).first()
    elsewhere = AdminArea.objects.filter(version=pak_gazetteer, level=3).exclude(pcode__startswith="PK1")
    elsewhere = elsewhere.first()
    inside = receive(other_operation, "uuid:pk-1", area="PK101", gps=gps_in(bagh_tehsil.pcode))
    outside = receive(other_operation, "uuid:pk-2", area="PK101", gps=gps_in(elsewhere.pcode))
    assert codes(inside) == []
    assert codes(outside) == ["gps_outside_area"]
    assert (
        f"lies in {elsewhere.pcode} {elsewhere.name}, not in the stated PK101" in outside.flags[0]["message"]
    )


# ---------------------------------------------------------------- duration


@pytest.mark.parametrize(
    "minutes, expected, words",
    [
        (20, [], ""),
        (2, ["too_short"], "Interview took 2 min 0 s; the form's minimum is 5 min 0 s"),
        (-30, ["duration_implausible"], "ends 30 min 0 s before it starts"),
        (60 * 30, ["duration_implausible"], "Interview lasted 30 h 0 min, more than 24 h 0 min"),
    ],
)
def test_interview_duration(operation, minutes, expected, words):
    publish(operation)
    s = receive(operation, "uuid:d-1", minutes=minutes)
    assert codes(s) == expected
    assert words in messages(s)


def test_the_minimum_is_the_forms_setting(operation):
    version = publish(operation)
    version.form.min_duration_seconds = 60
    version.form.save()
    assert codes(receive(operation, "uuid:d-2", minutes=2)) == []


# ---------------------------------------------------------------- duplicates


def test_duplicate_content_flags_the_later_one_naming_the_earlier_id(operation):
    publish(operation)
    first = receive(operation, "uuid:dup-1")
    second = receive(operation, "uuid:dup-2")
    other = receive(operation, "uuid:dup-3", people=5)
    assert codes(first) == [] and codes(other) == []
    assert codes(second) == ["duplicate_content"]
    assert second.flags[0]["message"] == "Same answers as submission uuid:dup-1 (an earlier instanceID)"


def test_an_edit_is_not_a_duplicate_of_the_version_it_replaces(operation):
    publish(operation)
    receive(operation, "uuid:e-1")
    edit = receive(operation, "uuid:e-2", deprecated="uuid:e-1")
    assert codes(edit) == []


# ---------------------------------------------------------------- outliers


def _usual(operation, n=30):
    for i in range(n):
        receive(operation, f"uuid:u-{i}", people=2 + i % 7, income=1000 + 10 * i)


def test_an_outlier_names_the_field_and_value(operation):
    publish(operation)
    _usual(operation)
    s = receive(operation, "uuid:out-1", people=400)
    assert codes(s) == ["outlier"]
    assert s.flags[0]["message"].startswith("people = 400 is far from this form's usual values (median 5")


def test_a_usual_value_is_not_an_outlier(operation):
    publish(operation)
    _usual(operation)
    assert codes(receive(operation, "uuid:ok-1", people=9)) == []


def test_too_few_submissions_no_outlier(operation):
    publish(operation)
    _usual(operation, n=10)
    assert codes(receive(operation, "uuid:few-1", people=400)) == []


def test_a_personal_numeric_outlier_hides_its_value(operation):
    publish(operation)
    _usual(operation)
    s = receive(operation, "uuid:out-2", income=INCOME_MARKER)
    assert codes(s) == ["outlier"]
    assert (
        s.flags[0]["message"]
        == "monthly_income (a personal field) has a value far from this form's usual values"
    )
    assert str(INCOME_MARKER) not in json.dumps(s.flags)


def test_an_outlier_in_a_repeat(operation):
    extra = [
        *EXTRA,
        ["begin_repeat", "members", "Members", "Membros", ""],
        ["integer", "age", "Age", "Idade", ""],
        ["end_repeat", "", "", "", ""],
    ]
    form_publish(operation=operation, data=simple_xlsform(extra=extra), filename="household_visit.xlsx")

    def send(instance_id, ages):
        members = "".join(f"<members><age>{a}</age></members>" for a in ages)
        raw = instance_xml(instance_id).replace(b"<meta>", members.encode() + b"<meta>")
        return submission_receive(operation=operation, raw=raw).submission

    for i in range(12):
        send(f"uuid:r-{i}", [20 + i, 30 + i])
    assert codes(send("uuid:r-ok", [25])) == []  # one entry: still read as a repeat
    s = send("uuid:r-out", [31, 900])
    assert codes(s) == ["outlier"]
    assert s.flags[0]["message"].startswith("members/age = 900")


# ---------------------------------------------------------------- together


def test_a_clean_submission_has_no_flags(operation, moz_districts):
    publish(operation)
    for i in range(25):
        receive(operation, f"uuid:c-{i}", area="MZ0101", gps=gps_in("MZ0101"), people=3 + i % 4)
    s = receive(operation, "uuid:clean", area="MZ0101", gps=gps_in("MZ0101"), people=5, income=1111)
    assert codes(s) == []


def test_no_personal_value_in_any_flag_message(operation, moz_districts):
    publish(operation)
    _usual(operation)
    receive(operation, "uuid:p-0", area="MZ0105", gps=gps_in("MZ0101"), minutes=1, income=INCOME_MARKER)
    receive(operation, "uuid:p-1", area="MZ0105", gps=gps_in("MZ0101"), minutes=1, income=INCOME_MARKER)
    flagged = Submission.objects.get(instance_id="uuid:p-1")
    assert set(codes(flagged)) == {"gps_outside_area", "too_short", "duplicate_content", "outlier"}
    text = json.dumps(list(Submission.objects.values_list("flags", flat=True)), ensure_ascii=False)
    assert NAME_MARKER not in text and str(INCOME_MARKER) not in text


def test_other_flags_are_kept_and_recompute_agrees_with_arrival(operation, moz_districts, data_manager):
    version = publish(operation)
    _usual(operation)
    s = receive(operation, "uuid:rc-1", area="MZ0105", gps=gps_in("MZ0101"), minutes=1, people=400)
    receive(operation, "uuid:rc-2", area="MZ0105", gps=gps_in("MZ0101"), minutes=1, people=400)
    arrival = {x.instance_id: x.flags for x in Submission.objects.all()}
    s.refresh_from_db()
    Submission.objects.filter(pk=s.pk).update(flags=[*s.flags, {"code": "mapping", "message": "kept"}])
    counts = quality.flags_recompute(version.form, by=data_manager)
    after = {x.instance_id: x.flags for x in Submission.objects.all()}

    def codes_of(flags):
        return [f["code"] for f in flags]

    assert after["uuid:rc-1"][0] == {"code": "mapping", "message": "kept"}
    assert codes_of(after["uuid:rc-1"][1:]) == codes_of(arrival["uuid:rc-1"])
    assert codes_of(after["uuid:rc-2"]) == codes_of(arrival["uuid:rc-2"])
    assert after["uuid:rc-2"][:3] == arrival["uuid:rc-2"][:3]  # the same words, bar the outlier's counts
    assert counts["gps_outside_area"] == 2 and counts["duplicate_content"] == 1 and counts["outlier"] == 2


def test_recompute_after_flags_were_lost(operation):
    version = publish(operation)
    _usual(operation)
    receive(operation, "uuid:l-1", people=400, minutes=1)
    receive(operation, "uuid:l-2", people=400, minutes=1)
    Submission.objects.update(flags=[])
    counts = quality.flags_recompute(version.form)
    assert (counts["too_short"], counts["duplicate_content"], counts["outlier"]) == (2, 1, 2)
    assert counts["changed"] == 2


def test_a_failing_check_never_fails_the_submission(operation, monkeypatch):
    publish(operation)

    def broken(submission):
        raise ValueError(NAME_MARKER)

    monkeypatch.setattr(quality, "_duplicate_flags", broken)
    s = receive(operation, "uuid:f-1")
    assert Submission.objects.filter(pk=s.pk).exists() and codes(s) == []


# ---------------------------------------------------------------- cost on 10,000 submissions


@pytest.mark.heavy
def test_arrival_cost_on_ten_thousand_submissions(other_operation, pak_gazetteer):
    """Per-call time of flags_on_arrival with 10,000 submissions of one form (printed, not asserted)."""
    import hashlib

    version = publish(other_operation)
    tehsils = list(
        AdminArea.objects.filter(version=pak_gazetteer, level=3).values_list("pcode", "geometry")[:50]
    )
    points = [(p, shapely.from_geojson(g).representative_point()) for p, g in tehsils]
    now = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)
    rows = []
    for i in range(10_000):
        pcode, point = points[i % len(points)]
        people = 500 if i % 1000 == 999 else 2 + i % 9  # ten planted outliers
        stated = points[(i + 25) % len(points)][0][:5] if i % 1000 == 500 else pcode[:5]  # ten GPS elsewhere
        data = {"people": str(people), "monthly_income": str(1000 + i % 500), "admin2": stated}
        rows.append(
            Submission(
                form=version.form,
                form_version=version,
                instance_id=f"uuid:bench-{i}",
                root_id=f"uuid:bench-{i}",
                raw=b"",
                raw_sha256="0" * 64,
                data=data,
                content_sha256=hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest(),
                submitted_at=now + dt.timedelta(seconds=i),
                started_at=now,
                ended_at=now + dt.timedelta(minutes=1 + i % 30),
                latitude=point.y,
                longitude=point.x,
                area_code=stated,
            )
        )
    Submission.objects.bulk_create(rows, batch_size=1000)
    stored = list(
        Submission.objects.filter(form=version.form).select_related("form", "form_version").order_by("id")
    )
    started = time.perf_counter()
    for s in stored:
        quality.flags_on_arrival(s)
    per_call = (time.perf_counter() - started) / len(stored)
    started = time.perf_counter()
    counts = quality.flags_recompute(version.form)
    recompute = time.perf_counter() - started
    print(
        f"\nflags_on_arrival: {per_call * 1000:.2f} ms per call over {len(stored)}; "
        f"flags_recompute: {recompute:.1f} s; {counts}"
    )
    assert counts["too_short"] > 0 and counts["outlier"] == 10 and counts["gps_outside_area"] == 10
