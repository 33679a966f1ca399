"""The distribution, verification and assistance pages (Django test client)."""

import re

import pytest
from django.urls import reverse
from django.utils.html import escape

from mobility.core.models import Role
from mobility.registration import assistance as a
from mobility.registration.models import (
    AccessLog,
    AssistancePublication,
    Capability,
    Distribution,
    Verification,
)
from tests.registration.assist_helpers import DAY, PASSWORD, family, granted, same_person, site_make


@pytest.fixture
def site(operation):
    return site_make(operation)


@pytest.fixture
def supervisor(django_user_model, operation):
    return granted(
        django_user_model,
        operation,
        "supervisor",
        role=Role.DATA_MANAGER,
        capabilities=[Capability.DISTRIBUTE, Capability.VERIFY, Capability.VIEW],
    )


@pytest.fixture
def distributor(django_user_model, operation):
    return granted(django_user_model, operation, "distributor", capabilities=[Capability.DISTRIBUTE])


@pytest.fixture
def nfi(operation, supervisor):
    item = a.item_create(operation=operation, code="NFI", name="NFI kit", by=supervisor)
    a.entitlement_set(operation=operation, item=item, period_days=90, by=supervisor)
    return item


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def distribute_url(operation, household):
    return reverse(
        "registration:household_distribute", kwargs={"slug": operation.slug, "reference": household.reference}
    )


def post_distribution(client, url, item, **extra):
    page = client.get(url)
    reference = re.search(r'name="reference" value="([^"]+)"', page.content.decode()).group(1)
    data = {
        "item": item.pk,
        "quantity": 1,
        "distributed_on": DAY.isoformat(),
        "site": "",
        "distributor": "IOM",
        "reference": reference,
        **extra,
    }
    return client.post(url, data), data


def no_inline_scripts(html: str) -> bool:
    return all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))


def test_a_distributor_records_then_is_refused_a_second_kit(client, operation, site, nfi, distributor):
    hh = family(operation, "HH-1", site_code=site.code)
    url = distribute_url(operation, hh)
    login(client, distributor)
    response, data = post_distribution(client, url, nfi)
    assert response.status_code == 302
    assert Distribution.objects.get().household == hh
    # The same form sent again (double click): still one distribution.
    assert client.post(url, data).status_code == 302
    assert Distribution.objects.count() == 1
    response, _ = post_distribution(client, url, nfi)
    html = response.content.decode()
    assert response.status_code == 200 and 'id="refusal"' in html
    assert escape(a.ALREADY_RECEIVED.format(item="NFI", date=DAY, period_days=90)) in html
    assert 'name="override_reason"' not in html  # not a supervisor
    assert no_inline_scripts(html)
    assert Distribution.objects.count() == 1


def test_a_supervisor_overrides_with_a_required_reason(client, operation, nfi, distributor, supervisor):
    hh, twin = family(operation, "HH-1"), family(operation, "HH-2")
    same_person(hh, twin)
    a.distribution_record(
        operation=operation,
        household=hh,
        item=nfi,
        quantity=1,
        distributed_on=DAY,
        reference="D-1",
        by=distributor,
    )
    login(client, supervisor)
    url = distribute_url(operation, twin)
    assert "linked to 1 other household" in client.get(url).content.decode()
    response, data = post_distribution(client, url, nfi)
    html = response.content.decode()
    assert escape(a.ALREADY_RECEIVED_CLUSTER.format(item="NFI", date=DAY, period_days=90)) in html
    assert 'name="override_reason"' in html and 'id="record-override"' in html
    response = client.post(url, {**data, "override_reason": ""})
    assert "Give the reason" in response.content.decode() and Distribution.objects.count() == 1
    response = client.post(url, {**data, "override_reason": "family split after the flood"})
    assert response.status_code == 302
    second = Distribution.objects.get(household=twin)
    assert second.override_reason == "family split after the flood" and second.overrides.reference == "D-1"


def test_the_distribution_page_needs_the_grant_and_logs_every_view(
    client, django_user_model, operation, nfi, viewer
):
    hh = family(operation, "HH-1")
    url = distribute_url(operation, hh)
    assert client.get(url).status_code == 302  # to the login page
    login(client, viewer)
    assert client.get(url).status_code == 403
    assert AccessLog.objects.filter(user=viewer, action="denied").exists()
    client.logout()
    outsider = django_user_model.objects.create_user(username="stranger", password=PASSWORD)
    login(client, outsider)
    assert client.get(url).status_code == 404


def test_head_names_show_only_with_the_view_grant(client, operation, nfi, distributor, supervisor):
    hh = family(operation, "HH-1", head={"given_name": "Fátima", "family_name": "Omar"})
    url = distribute_url(operation, hh)
    assert "Fátima" not in login(client, distributor).get(url).content.decode()
    client.logout()
    assert "Fátima Omar" in login(client, supervisor).get(url).content.decode()
    log = AccessLog.objects.filter(user=supervisor, action="view").get()
    assert (log.purpose, log.object_id) == ("assistance", str(hh.pk))


def test_a_verifier_opens_a_round_and_marks_households(client, operation, site, supervisor):
    households = [family(operation, f"HH-{i}", site_code=site.code) for i in range(3)]
    login(client, supervisor)
    rounds_url = reverse("registration:verification_rounds", kwargs={"slug": operation.slug})
    response = client.post(
        rounds_url, {"name": "Site 01 — May", "site": site.pk, "area_pcode": "", "started_on": "2026-05-01"}
    )
    assert response.status_code == 302
    page = client.get(response["Location"])
    html = page.content.decode()
    assert all(h.reference in html for h in households) and no_inline_scripts(html)
    assert 'hx-post="' in html and "csrfmiddlewaretoken" in html
    round_id = int(response["Location"].rstrip("/").split("/")[-1])
    mark = reverse(
        "registration:verification_mark",
        kwargs={"slug": operation.slug, "round_id": round_id, "reference": households[0].reference},
    )
    row = client.post(
        mark,
        {"outcome": "moved", "moved_to_pcode": "MZ0106", "verified_on": "2026-05-02"},
        HTTP_HX_REQUEST="true",
    )
    assert row.status_code == 200 and "Moved" in row.content.decode() and "<html" not in row.content.decode()
    plain = client.post(
        reverse(
            "registration:verification_mark",
            kwargs={"slug": operation.slug, "round_id": round_id, "reference": households[1].reference},
        ),
        {"outcome": "present", "verified_on": "2026-05-02"},
    )
    assert plain.status_code == 302 and plain["Location"].endswith(f"#hh-{households[1].pk}")
    assert dict(Verification.objects.values_list("household__reference", "outcome")) == {
        "HH-0": "moved",
        "HH-1": "present",
    }
    bad = client.post(
        mark,
        {"outcome": "present", "moved_to_pcode": "", "verified_on": "2026-04-01"},
        HTTP_HX_REQUEST="true",
    )
    assert "before the round started" in bad.content.decode()
    listing = client.get(rounds_url).content.decode()
    assert "Site 01 — May" in listing


def test_the_assistance_page_shows_counts_hidden_when_small_and_publishes(
    client, operation, site, nfi, supervisor, viewer
):
    hh = family(operation, "HH-1", site_code=site.code)
    a.distribution_record(
        operation=operation,
        household=hh,
        item=nfi,
        quantity=1,
        distributed_on=DAY,
        reference="D-1",
        by=supervisor,
    )
    url = reverse("registration:distributions", kwargs={"slug": operation.slug})
    login(client, viewer)
    html = client.get(url).content.decode()
    assert "May 2026" in html and "hidden: small cell" in html and "HH-1" not in html
    assert 'id="publish-form"' not in html
    client.logout()
    login(client, supervisor)
    html = client.get(url).content.decode()
    assert "Exact counts" in html and 'id="publish-form"' in html and no_inline_scripts(html)
    response = client.post(
        reverse("registration:assistance_publish", kwargs={"slug": operation.slug}), {"period": "2026-05"}
    )
    assert (
        response.status_code == 302 and AssistancePublication.objects.filter(operation=operation).count() == 1
    )
