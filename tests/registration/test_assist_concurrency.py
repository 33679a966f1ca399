"""Two distributions for linked households recorded at the same moment: only one passes the check."""

import threading
import time

import pytest
from django.db import connection, connections

from mobility.core.models import Role
from mobility.registration import assistance as a
from mobility.registration.models import Capability, Distribution
from tests.registration.assist_helpers import DAY, family, granted, same_person

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the test database of SQLite is in memory and not shared by threads")


def test_two_distributions_at_once_for_one_cluster_record_only_one(django_user_model, operation, monkeypatch):
    manager = granted(
        django_user_model,
        operation,
        "supervisor",
        role=Role.DATA_MANAGER,
        capabilities=[Capability.DISTRIBUTE],
    )
    item = a.item_create(operation=operation, code="NFI", name="NFI kit", by=manager)
    a.entitlement_set(operation=operation, item=item, period_days=90, by=manager)
    hh, twin = family(operation, "HH-1"), family(operation, "HH-2")
    same_person(hh, twin)

    # Widen the window between the check and the write, so that without the lock both would pass.
    real_refusals = a.refusals

    def slow_refusals(**kwargs):
        result = real_refusals(**kwargs)
        time.sleep(0.5)
        return result

    monkeypatch.setattr(a, "refusals", slow_refusals)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def record(household, reference):
        try:
            barrier.wait()
            a.distribution_record(
                operation=operation,
                household=household,
                item=item,
                quantity=1,
                distributed_on=DAY,
                reference=reference,
                by=manager,
            )
            outcomes[reference] = "recorded"
        except a.DistributionRefused:
            outcomes[reference] = "refused"
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcomes[reference] = repr(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=record, args=(hh, "D-1")),
        threading.Thread(target=record, args=(twin, "D-2")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes.values()) == ["recorded", "refused"], outcomes
    assert Distribution.objects.count() == 1
