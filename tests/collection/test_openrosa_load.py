"""Phones sending at once, re-sending, and racing each other: every instance stored once, every phone told so.

Real HTTP with requests and Digest auth. On PostgreSQL the server is pytest-django's live_server (a
thread per request, a connection per thread). On SQLite live_server would hand every request
thread the one shared in-memory connection, which tests nothing about concurrent writers, so the
server is gunicorn on a WAL file copied from the test database, as a laptop runs it.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from defusedxml import ElementTree as ET
from requests.auth import HTTPDigestAuth

from mobility.collection.models import Submission, SubmissionConflict
from mobility.collection.services import form_publish
from mobility.core.models import Membership, Role

from .forms import instance_xml, simple_xlsform
from .test_openrosa_faults import PASSWORD, GunicornServer, digest_recorded  # noqa: F401 - fixture

PHONES = 4
SENDS_PER_PHONE = 60
RACES_PER_PAIR = 2  # instances two phones send at the same moment, as their first send
RESENDS_PER_PHONE = 6  # 10% of the sends: an instance this phone already sent


def plan(seed: int = 5) -> tuple[list[list[tuple[str, int | None]]], int]:
    """Per phone, the instance ids to send in order; a race entry carries its barrier number."""
    rng = random.Random(seed)
    phones: list[list[tuple[str, int | None]]] = []
    for phone in range(PHONES):
        pair = phone // 2
        races = [(f"uuid:race-{pair}-{n}", pair * RACES_PER_PAIR + n) for n in range(RACES_PER_PAIR)]
        own = [
            f"uuid:phone-{phone}-{n:04d}" for n in range(SENDS_PER_PHONE - RACES_PER_PAIR - RESENDS_PER_PHONE)
        ]
        sends = [(instance, None) for instance in own]
        for _ in range(RESENDS_PER_PHONE):
            at = rng.randrange(1, len(sends) + 1)
            sends.insert(at, (rng.choice([s for s, _ in sends[:at]]), None))  # a re-send after the first send
        phones.append(races + sends)
    unique = {instance for sends in phones for instance, _ in sends}
    return phones, len(unique)


@pytest.mark.django_db(transaction=True)
def test_concurrent_phones_store_each_instance_exactly_once(request, tmp_path, operation, django_user_model):
    form_publish(operation=operation, data=simple_xlsform(), filename="household_visit.xlsx")
    users = []
    for n in range(PHONES):
        user = django_user_model(username=f"enumerator{n}")
        user.set_password(PASSWORD)  # records the Digest HA1
        user.save()
        Membership.objects.create(user=user, operation=operation, role=Role.ENUMERATOR)
        users.append(user)
    path = f"/collect/{operation.slug}/submission"
    server = None
    from django.db import connection

    if connection.vendor == "sqlite":
        server = GunicornServer(tmp_path, workers=2, threads=4)
        server.start(path)
        url = server.url + path
    else:
        url = request.getfixturevalue("live_server").url + path

    phones, unique = plan()
    barriers = [threading.Barrier(2, timeout=30) for _ in range(2 * RACES_PER_PAIR)]
    bodies = {
        instance: instance_xml(instance, people=len(instance)) for sends in phones for instance, _ in sends
    }

    def run_phone(number: int) -> list[tuple[str, int, str]]:
        session = requests.Session()
        session.auth = HTTPDigestAuth(users[number].username, PASSWORD)
        assert session.head(url, timeout=30).status_code == 204  # as Collect: HEAD first, then sign each POST
        results = []
        for instance, race in phones[number]:
            if race is not None:
                barriers[race].wait()
            files = {"xml_submission_file": ("instance.xml", bodies[instance], "text/xml")}
            r = session.post(url, files=files, timeout=60)
            nature = ET.fromstring(r.content).find("{http://openrosa.org/http/response}message").get("nature")
            results.append((instance, r.status_code, nature))
        return results

    try:
        with ThreadPoolExecutor(PHONES) as pool:
            results = [row for rows in pool.map(run_phone, range(PHONES)) for row in rows]
    finally:
        if server is not None:
            server.stop()
    if server is not None:
        server.sync_back()

    assert len(results) == PHONES * SENDS_PER_PHONE
    assert Counter(status for _, status, _ in results) == {201: unique, 202: len(results) - unique}
    assert {nature for _, _, nature in results} == {"submit_success"}
    created = Counter(instance for instance, status, _ in results if status == 201)
    assert set(created.values()) == {1}  # each instance was created by exactly one request, races included
    assert Submission.objects.count() == unique == len(created)
    assert Submission.objects.values("instance_id").distinct().count() == unique
    assert SubmissionConflict.objects.count() == 0
