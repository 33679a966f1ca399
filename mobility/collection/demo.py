"""Demo data for the collection pages: the ready-made ETT form with a few invented phone submissions.

Invented, real-shaped values (places are real OCHA p-codes of Cabo Delgado); no person's data.
Loaded by `mobility demo`; running it again stores nothing new (the instanceIDs are fixed).
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model

from mobility.core.models import Operation

# (event code, type, date, admin2 of the event, [(group, households, individuals, from admin2, to admin2)], gps)
EVENTS = [
    ("ETT-D001", "conflict", "2026-03-02", "MZ0110", [("IDP", 60, 300, "MZ0110", "MZ0101")], "-11.35 40.35"),
    ("ETT-D002", "conflict", "2026-03-04", "MZ0115", [("IDP", 120, 610, "MZ0115", "MZ0113")], "-11.28 40.21"),
    ("ETT-D003", "flood", "2026-03-05", "MZ0116", [("IDP", 45, 190, "MZ0116", "MZ0108")], "-12.97 40.52"),
    (
        "ETT-D004",
        "conflict",
        "2026-03-08",
        "MZ0110",
        [("IDP", 30, 140, "MZ0110", "MZ0103"), ("IDP", 12, 55, "MZ0110", "MZ0104")],
        "-11.36 40.34",
    ),
    (
        "ETT-D005",
        "conflict",
        "2026-03-10",
        "MZ0113",
        [("RET-IDP", 80, 410, "MZ0101", "MZ0113")],
        "-11.09 40.67",
    ),
    ("ETT-D006", "cyclone", "2026-03-12", "MZ0108", [("IDP", 22, -5, "MZ0108", "MZ0116")], "-12.58 39.10"),
]


def _body(code, kind, day, admin2, movements, gps) -> dict:
    date = dt.date.fromisoformat(day)
    return {
        "start": f"{day}T08:00:00.000+02:00",
        "end": f"{day}T08:{12 + len(movements) * 6:02d}:00.000+02:00",
        "deviceid": "collect:demo-phone-1",
        "today": (date + dt.timedelta(days=1)).isoformat(),
        "gps": f"{gps} 0 8",
        "event": {
            "event_ref": "",
            "event_uid": f"demo-{code.lower()}",
            "event_code": code,
            "event_type": kind,
            "event_date": day,
            "event_description": "Invented demo event",
            "event_admin1": "MZ01",
            "event_admin2": admin2,
            "event_admin3": "",
        },
        "movements": [
            {
                "population_group": group,
                "households": households,
                "individuals": individuals,
                "from_admin1": "MZ01",
                "from_admin2": origin,
                "from_admin3": "",
                "to_admin1": "MZ01",
                "to_admin2": destination,
                "to_admin3": "",
                "shelter": "host_family",
                "initial_needs": "food wash",
            }
            for group, households, individuals, origin, destination in movements
        ],
    }


def collection_demo(*, operation: Operation, admin) -> tuple[str, str | None, int]:
    """Publish the ETT form, make the `enumerator` app user, send the demo submissions.

    Returns (form id, the enumerator's password when it was created now, submissions stored now).
    One submission has a negative count on purpose: it waits in "needs attention".
    """
    import secrets

    from mobility.core import services as core_services
    from mobility.core.models import Role

    from .builtin_forms import ETT, builtin_publish
    from .models import Form
    from .services import Outcome, submission_receive
    from .xforms import instance_build

    if not Form.objects.filter(operation=operation, xml_form_id=ETT.form_id).exists():
        builtin_publish(operation=operation, key="ett", by=admin)
    User = get_user_model()
    password = None
    enumerator = User.objects.filter(username="enumerator").first()
    if enumerator is None:
        password = secrets.token_urlsafe(12)
        enumerator = core_services.user_create(username="enumerator", password=password, by=admin)
        core_services.membership_set(user=enumerator, operation=operation, role=Role.ENUMERATOR, by=admin)
    stored = 0
    for number, event in enumerate(EVENTS, start=1):
        raw = instance_build(
            ETT.form_id, ETT.version, f"uuid:00000000-demo-4000-8000-{number:012d}", _body(*event)
        )
        received = submission_receive(operation=operation, raw=raw, by=enumerator)
        stored += received.outcome == Outcome.CREATED
    return ETT.form_id, password, stored
