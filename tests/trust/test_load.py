"""Under load nothing is lost and nothing is counted twice: phones racing and re-sending through a bound
form, overlapping files imported at the same moment, and an import running while the API is read.

Real processes: Mobility under gunicorn (2 workers × 4 threads, jobs run in the request) on the test
database — on SQLite a WAL file copied from the in-memory test database (as a laptop runs it) and copied
back for the assertions; on PostgreSQL the test database itself — and real threads as clients.
bench/bench_load.py runs the bigger version and prints the submissions/s held with zero loss.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from defusedxml import ElementTree as ET
from requests.auth import HTTPDigestAuth

from mobility.collection.auth import digest_record
from mobility.collection.builtin_forms import ETT, builtin_publish
from mobility.collection.models import Submission, SubmissionConflict
from mobility.core.models import ImportJob, Membership, Role
from mobility.core.services import round_create
from mobility.gazetteer.models import AdminArea
from mobility.tracking.models import AreaFigure, Assessment, Event, GroupMovement, PopulationFigure
from tests.collection.test_openrosa_faults import PASSWORD, GunicornServer
from tests.gazetteer.gazetteer_fixtures import DATA, moz_gazetteer_fixture  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def can_sign_in(user) -> None:
    """A password the served process can check: the test settings' fast MD5 hasher is not in its list."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(PASSWORD, hasher.salt(), iterations=1000)
    user.save(update_fields=["password"])


def signed_in(url: str, username: str) -> requests.Session:
    """A browser session signed in through the login page."""
    session = requests.Session()
    session.get(url + "/login/", timeout=30)
    r = session.post(
        url + "/login/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 302, r.status_code
    return session


def web_upload(url: str, session: requests.Session, name: str, content: bytes, **fields) -> int:
    """Upload a file on the import page (the job runs in the request here); returns the job id."""
    r = session.post(
        url + "/imports/",
        data={**fields, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        files={"file": (name, content, "text/csv")},
        allow_redirects=False,
        timeout=120,
    )
    assert r.status_code == 302, r.text[-2000:]
    return int(r.headers["Location"].rstrip("/").split("/")[-1])


def started(tmp_path, operation) -> GunicornServer:
    server = GunicornServer(tmp_path, workers=2, threads=4)
    server.start(f"/collect/{operation.slug}/submission")  # answers 401 once the server is up
    return server


# --- phones -----------------------------------------------------------------------------------------

PHONES = 4
UNIQUE = 40  # instances; each is first sent by two phones at the same moment
RESENDS = 12  # later re-sends of instances already stored


def ett_instance(instance_id: str, n: int, version: str) -> bytes:
    """One emergency event with one group movement (the shipped ETT form), as Collect sends it."""
    return (
        f'<?xml version="1.0"?><data xmlns:orx="http://openrosa.org/xforms" id="{ETT.form_id}" version="{version}">'
        "<start>2026-02-03T08:00:00.000+02:00</start><end>2026-02-03T08:20:00.000+02:00</end>"
        f"<deviceid>collect:load-{n % 7}</deviceid><today>2026-02-03</today><gps>-11.5 40.3 0 8</gps>"
        f"<event><event_ref></event_ref><event_uid>{instance_id[5:]}</event_uid>"
        f"<event_code>LOAD-{n:05d}</event_code><event_type>conflict</event_type>"
        f"<event_date>2026-01-{1 + n % 28:02d}</event_date><event_description>Load event {n}</event_description>"
        "<event_admin1>MZ01</event_admin1><event_admin2>MZ0110</event_admin2><event_admin3></event_admin3>"
        "</event><movements><population_group>IDP</population_group>"
        f"<households>{1 + n % 40}</households><individuals>{60 + n}</individuals>"
        "<from_admin1>MZ01</from_admin1><from_admin2>MZ0110</from_admin2><from_admin3></from_admin3>"
        "<to_admin1>MZ01</to_admin1><to_admin2>MZ0101</to_admin2><to_admin3></to_admin3>"
        "<shelter>host_family</shelter><initial_needs>food wash</initial_needs></movements>"
        f"<meta><instanceID>{instance_id}</instanceID></meta></data>"
    ).encode()


def phone_plan(seed: int = 11) -> list[list[tuple[str, int | None]]]:
    """Per phone, (instance, barrier or None): every instance raced by two phones, then some re-sent."""
    rng = random.Random(seed)
    plans: list[list[tuple[str, int | None]]] = [[] for _ in range(PHONES)]
    for n in range(UNIQUE):
        a, b = rng.sample(range(PHONES), 2)
        instance = f"uuid:load-{n:04d}"
        plans[a].append((instance, n))
        plans[b].append((instance, n))
    for _ in range(RESENDS):
        phone = rng.randrange(PHONES)
        plans[phone].append((rng.choice(plans[phone])[0], None))  # after all its races: stored by then
    return plans


def test_phones_racing_and_resending_through_a_bound_form_store_and_count_each_instance_once(
    tmp_path, moz_gazetteer, operation, django_user_model
):
    published = builtin_publish(operation=operation, key="ett")
    users = []
    for n in range(PHONES):
        user = django_user_model.objects.create_user(username=f"phone{n}", password=PASSWORD)
        digest_record(user=user, password=PASSWORD)
        Membership.objects.create(user=user, operation=operation, role=Role.ENUMERATOR)
        users.append(user.username)
    path = f"/collect/{operation.slug}/submission"
    plans = phone_plan()
    barriers = [threading.Barrier(2, timeout=60) for _ in range(UNIQUE)]
    version = published.version.version
    bodies = {f"uuid:load-{n:04d}": ett_instance(f"uuid:load-{n:04d}", n, version) for n in range(UNIQUE)}
    server = started(tmp_path, operation)

    def phone(number: int) -> list[tuple[str, int, str]]:
        session = requests.Session()
        session.auth = HTTPDigestAuth(users[number], PASSWORD)
        session.headers["X-OpenRosa-Version"] = "1.0"
        assert session.head(server.url + path, timeout=30).status_code == 204
        out = []
        for instance, race in plans[number]:
            if race is not None:
                barriers[race].wait()
            files = {"xml_submission_file": ("submission.xml", bodies[instance], "text/xml")}
            r = session.post(server.url + path, files=files, timeout=60)
            message = ET.fromstring(r.content).find("{http://openrosa.org/http/response}message")
            out.append((instance, r.status_code, message.get("nature") if message is not None else ""))
        return out

    try:
        with ThreadPoolExecutor(PHONES) as pool:
            answers = [a for rows in pool.map(phone, range(PHONES)) for a in rows]
    finally:
        server.stop()
    server.sync_back()

    sends = 2 * UNIQUE + RESENDS
    assert len(answers) == sends
    assert Counter(status for _, status, _ in answers) == {201: UNIQUE, 202: sends - UNIQUE}
    assert {nature for *_, nature in answers} == {"submit_success"}
    assert set(Counter(i for i, status, _ in answers if status == 201).values()) == {1}
    # Stored once, processed once: one event and one group movement per instance, the figures exact.
    form = published.version.form
    assert Submission.objects.filter(form=form).count() == UNIQUE
    assert set(Submission.objects.filter(form=form).values_list("status", flat=True)) == {
        Submission.Status.PROCESSED
    }
    assert SubmissionConflict.objects.count() == 0
    assert Event.objects.filter(operation=operation).count() == UNIQUE
    movements = GroupMovement.objects.filter(event__operation=operation)
    assert movements.count() == UNIQUE
    assert sorted(movements.values_list("individuals", flat=True)) == [60 + n for n in range(UNIQUE)]


# --- overlapping imports ----------------------------------------------------------------------------

HEADER = ["admin3_code", "population_group", "households", "individuals"]
GROUPS = ("IDP", "RET-IDP")


def moz_admin3() -> list[str]:
    with (DATA / "moz_adm0-3_pcodes_ocha_2019.csv").open(encoding="utf-8-sig", newline="") as fh:
        return sorted({row["ADM3 PCODE"].strip() for row in csv.DictReader(fh)})


def people(pcode: str, group: str) -> int:
    """The same figure for a place and group in every file that has it."""
    return 50 + (sum(map(ord, pcode)) * 7 + len(group) * 13) % 700


def template(places: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for pcode in places:
        for group in GROUPS:
            writer.writerow([pcode, group, people(pcode, group) // 5, people(pcode, group)])
    return out.getvalue().encode()


def test_overlapping_files_imported_at_the_same_moment_store_each_place_once(
    tmp_path, moz_gazetteer, operation, data_manager
):
    round_create(operation=operation, number=1, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 31))
    can_sign_in(data_manager)
    places = moz_admin3()
    # Four offices send their part; the parts overlap (two to four files hold each place).
    parts = [
        places[: len(places) * 3 // 4],
        places[len(places) // 4 :],
        places[::2],
        places[1::2] + places[:80:2],
    ]
    assert set().union(*parts) == set(places)
    server = started(tmp_path, operation)
    barrier = threading.Barrier(len(parts), timeout=60)

    # Signed in one after the other: the first sign-in upgrades the password hash, which would sign
    # out a session opened before it.
    sessions = [signed_in(server.url, data_manager.username) for _ in parts]

    def office(number: int) -> int:
        barrier.wait()
        return web_upload(
            server.url,
            sessions[number],
            f"office-{number}.csv",
            template(parts[number]),
            kind="tracking.template",
            operation=str(operation.pk),
            round="1",
        )

    try:
        with ThreadPoolExecutor(len(parts)) as pool:
            job_ids = list(pool.map(office, range(len(parts))))
    finally:
        server.stop()
    server.sync_back()

    jobs = [ImportJob.objects.get(pk=pk) for pk in job_ids]  # in the order of the parts
    assert [(j.status, j.error) for j in jobs] == [("succeeded", "")] * len(parts)
    # Each place was created by exactly one of the files; the others found it (and, the same figures at
    # another row of another file, updated its source row or left it unchanged).
    assert sum(j.created for j in jobs) == len(places)
    assert [j.created + j.updated + j.unchanged for j in jobs] == [len(p) for p in parts]
    assert Assessment.objects.filter(round__operation=operation).count() == len(places)
    figures = PopulationFigure.objects.filter(assessment__round__operation=operation)
    assert figures.count() == len(places) * len(GROUPS)
    expected = {g: sum(people(p, g) for p in places) for g in GROUPS}
    assert {
        g: sum(figures.filter(population_group=g).values_list("individuals", flat=True)) for g in GROUPS
    } == (expected)
    # The analytics cells add up to the same totals at every level: nothing counted twice.
    for level in (0, 1, 2, 3):
        cells = AreaFigure.objects.filter(round__operation=operation, admin_level=level)
        totals = {
            g: sum(cells.filter(population_group=g).values_list("individuals", flat=True)) for g in GROUPS
        }
        assert totals == expected, level


# --- an import while the API is read ----------------------------------------------------------------


def cod_table(wards_per_district: int) -> tuple[bytes, dict[int, int]]:
    """A Zambian-shaped p-code table: 10 provinces × 20 districts × N wards; the areas per level."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["ADM0_EN", "ADM0_PCODE", "ADM1_EN", "ADM1_PCODE", "ADM2_EN", "ADM2_PCODE", "ADM3_EN", "ADM3_PCODE"]
    )
    for a in range(1, 11):
        for b in range(1, 21):
            for c in range(1, wards_per_district + 1):
                writer.writerow(
                    [
                        "Zambia",
                        "ZM",
                        f"Province {a}",
                        f"ZM{a:02d}",
                        f"District {a}-{b}",
                        f"ZM{a:02d}{b:03d}",
                        f"Ward {a}-{b}-{c}",
                        f"ZM{a:02d}{b:03d}{c:03d}",
                    ]
                )
    return out.getvalue().encode(), {1: 10, 2: 200, 3: 200 * wards_per_district}


def test_an_import_running_while_the_api_is_read_is_seen_whole_or_not_at_all(tmp_path, operation, admin_user):
    can_sign_in(admin_user)
    content, areas = cod_table(wards_per_district=40)  # 8,000 wards: the import takes seconds
    server = started(tmp_path, operation)
    stop = threading.Event()
    seen: dict[int, list[tuple[int, int]]] = {n: [] for n in range(3)}  # reader → [(level, rows)] in order
    failures: list[str] = []

    def reader(number: int) -> None:
        session = requests.Session()
        level = 1 + number % 2
        while not stop.is_set():
            r = session.get(
                f"{server.url}/api/v1/metadata/admin{level}",
                params={"location_code": "ZMB", "limit": 10000},
                timeout=60,
            )
            if r.status_code != 200:
                failures.append(f"admin{level}: {r.status_code}")
                return
            seen[number].append((level, len(r.json()["data"])))
            level = 3 - level
            stop.wait(0.02)

    readers = [threading.Thread(target=reader, args=(n,)) for n in range(3)]
    try:
        for t in readers:
            t.start()
        session = signed_in(server.url, admin_user.username)
        job_id = web_upload(
            server.url,
            session,
            "zmb_pcodes.csv",
            content,
            kind="gazetteer.cod",
            country="ZMB",
            edition="2026",
        )
        # Every reader reads again after the import ended.
        ended = {n: len(rows) for n, rows in seen.items()}
        while not failures and any(len(seen[n]) < ended[n] + 2 for n in seen):
            stop.wait(0.05)
    finally:
        stop.set()
        for t in readers:
            t.join(timeout=60)
        server.stop()
    server.sync_back()

    assert ImportJob.objects.get(pk=job_id).status == "succeeded"
    assert AdminArea.objects.filter(version__country_iso3="ZMB").count() == 1 + sum(areas.values())
    assert not failures, failures
    reads = [read for rows in seen.values() for read in rows]
    # Every answer held all of the new edition's areas of its level or none of them...
    assert set(reads) <= {(1, 0), (2, 0), (1, areas[1]), (2, areas[2])}, Counter(reads)
    assert (1, 0) in reads and (2, 0) in reads, "no read happened while the import ran"
    # ...and no reader saw them go away again.
    for number, rows in seen.items():
        found = [bool(count) for _, count in rows]
        assert found == sorted(found), f"reader {number} saw the edition, then not"
        assert found[-1], f"reader {number} never saw the edition"
