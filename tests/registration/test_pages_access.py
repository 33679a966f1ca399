"""Who may open which registration page, and the access log each opening writes.

Anonymous users go to the login page; members without a grant see the figures but get a 403 (and a
DENIED line) on personal pages; a grant opens them and every opening is logged; members of another
operation cannot reach this operation's households, not even by guessing a reference.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from mobility.registration.access import NO_GRANT
from mobility.registration.models import AccessLog, Capability, Household, Purpose

from .pages_world import (
    MARKER_DOCUMENT,
    MARKER_FAMILY,
    MARKER_GIVEN,
    MARKER_PHONE,
    MARKERS,
    grant,
    head_of,
    marked_household,
    member,
    pair_make,
)

pytestmark = pytest.mark.django_db


def personal_urls(operation, reference="HH-MARK") -> dict[str, str]:
    slug = operation.slug
    return {
        "households": reverse("registration:households", args=[slug]),
        "household": reverse("registration:household", args=[slug, reference]),
        "household_edit": reverse("registration:household_edit", args=[slug, reference]),
        "household_new": reverse("registration:household_new", args=[slug]),
        "review": reverse("registration:review", args=[slug]),
    }


def test_anonymous_users_are_sent_to_the_login_page(client, operation):
    marked_household(operation)
    urls = [reverse("registration:index"), reverse("registration:home", args=[operation.slug])]
    for url in [*urls, *personal_urls(operation).values()]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_a_member_without_a_grant_is_refused_and_the_refusal_is_logged(client, operation, viewer):
    household = marked_household(operation)
    client.force_login(viewer)
    for name, url in personal_urls(operation).items():
        before = AccessLog.objects.filter(user=viewer, action=AccessLog.Action.DENIED).count()
        response = client.get(url)
        assert response.status_code == 403, name
        assert AccessLog.objects.filter(user=viewer, action=AccessLog.Action.DENIED).count() == before + 1
        html = response.content.decode()
        assert "written to the operation" in html  # the 403 page says the refusal is logged
        for marker in MARKERS:
            assert marker not in html, (name, marker)
    denied = AccessLog.objects.filter(user=viewer, action=AccessLog.Action.DENIED).first()
    assert denied.operation == operation and denied.detail["capability"] in {c.value for c in Capability}
    assert str(household.pk) not in [log.object_id for log in AccessLog.objects.exclude(action="denied")]


def test_the_refusal_names_the_missing_purpose(client, operation, viewer):
    client.force_login(viewer)
    response = client.get(personal_urls(operation)["households"])
    assert NO_GRANT.format(capability="view") in response.content.decode()


def test_members_see_the_registry_figures_without_any_personal_value(client, operation, viewer):
    marked_household(operation)
    marked_household(operation, "HH-MARK-2")
    client.force_login(viewer)
    response = client.get(reverse("registration:home", args=[operation.slug]))
    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["counts"]["households"] == 2
    assert response.context["counts"]["people"] == 4
    for marker in MARKERS:
        assert marker not in html
    assert reverse("registration:households", args=[operation.slug]) not in html  # no link to what is refused
    assert not AccessLog.objects.filter(action=AccessLog.Action.VIEW).exists()


def test_a_view_grant_opens_the_list_and_the_household_and_logs_each(client, operation, viewer, admin_user):
    household = marked_household(operation)
    grant(operation, viewer, Capability.VIEW, by=admin_user)
    client.force_login(viewer)

    response = client.get(personal_urls(operation)["households"])
    assert response.status_code == 200
    assert MARKER_GIVEN in response.content.decode()
    log = AccessLog.objects.get(user=viewer, action=AccessLog.Action.VIEW)
    assert (log.object_type, log.object_id, log.purpose) == (
        "registration.household",
        str(household.pk),
        Purpose.REGISTRATION,
    )

    response = client.get(personal_urls(operation)["household"])
    html = response.content.decode()
    assert response.status_code == 200
    for marker in (MARKER_GIVEN, MARKER_FAMILY, MARKER_DOCUMENT, "+258847770123"):
        assert marker in html
    assert (
        AccessLog.objects.filter(
            user=viewer, action=AccessLog.Action.VIEW, object_id=str(household.pk)
        ).count()
        == 2
    )
    for log in AccessLog.objects.all():  # the log holds ids, never values
        assert not any(marker in str(log.detail) for marker in MARKERS)


def test_view_alone_does_not_open_registering_correcting_or_reviewing(client, operation, viewer, admin_user):
    marked_household(operation)
    grant(operation, viewer, Capability.VIEW, by=admin_user)
    client.force_login(viewer)
    urls = personal_urls(operation)
    for name in ("household_new", "household_edit", "review"):
        assert client.get(urls[name]).status_code == 403, name


def test_a_member_of_another_operation_cannot_reach_households_by_guessing(
    client, operation, other_operation, outsider, admin_user
):
    household = marked_household(operation)
    # The outsider holds every grant in their own operation.
    grant(other_operation, outsider, *Capability, by=admin_user)
    client.force_login(outsider)
    for name, url in personal_urls(operation).items():
        response = client.get(url)
        assert response.status_code == 404, name
        assert MARKER_GIVEN not in response.content.decode()
    # The same reference under their own operation's address finds nothing either.
    response = client.get(reverse("registration:household", args=[other_operation.slug, household.reference]))
    assert response.status_code == 404
    assert AccessLog.objects.filter(
        user=outsider, operation=operation, action=AccessLog.Action.DENIED
    ).exists()


def test_a_grant_in_one_operation_does_not_open_another(client, operation, other_operation, admin_user,
                                                         django_user_model):  # fmt: skip
    both = member(django_user_model, "both", operation)
    from mobility.core.models import Membership, Role

    Membership.objects.create(user=both, operation=other_operation, role=Role.VIEWER)
    grant(other_operation, both, Capability.VIEW, by=admin_user)
    marked_household(operation)
    client.force_login(both)
    assert client.get(personal_urls(operation)["household"]).status_code == 403
    assert client.get(personal_urls(other_operation)["households"]).status_code == 200


def test_search_by_phone_document_and_full_name_is_exact_and_logged_without_the_text(
    client, operation, viewer, admin_user
):
    household = marked_household(operation)
    marked_household(operation, "HH-OTHER", phone="+258 82 000 1111",
                     head={"given_name": "Ana", "family_name": "Bila", "document_number": "AB1"})  # fmt: skip
    grant(operation, viewer, Capability.VIEW, by=admin_user)
    client.force_login(viewer)
    url = personal_urls(operation)["households"]
    for query in (
        MARKER_PHONE,
        "258-84-777-0123",
        MARKER_DOCUMENT.lower(),
        f"{MARKER_GIVEN} {MARKER_FAMILY}",
    ):
        response = client.post(url, {"q": query})
        found = [row["household"].reference for row in response.context["rows"]]
        assert found == [household.reference], query
    for partial in ("84 777", MARKER_DOCUMENT[:6], MARKER_GIVEN):
        response = client.post(url, {"q": partial})
        assert response.context["rows"] == [], partial
    assert [r["household"].reference for r in client.post(url, {"q": "hh-oth"}).context["rows"]] == [
        "HH-OTHER"
    ]
    searches = AccessLog.objects.filter(user=viewer, action=AccessLog.Action.SEARCH)
    assert searches.count() == 8
    for log in searches:
        assert not any(m in str(log.detail) for m in (*MARKERS, "777", "84 777")), log.detail


def test_a_search_text_in_the_url_is_ignored_so_it_never_reaches_proxy_logs(
    client, operation, viewer, admin_user
):
    household = marked_household(operation)
    marked_household(operation, "HH-OTHER", phone="+258 82 000 1111",
                     head={"given_name": "Ana", "family_name": "Bila", "document_number": "AB1"})  # fmt: skip
    grant(operation, viewer, Capability.VIEW, by=admin_user)
    client.force_login(viewer)
    url = personal_urls(operation)["households"]
    assert len(client.post(url, {"q": MARKER_PHONE}).context["rows"]) == 1
    rows = client.get(url, {"q": MARKER_PHONE}).context["rows"]
    assert {r["household"].reference for r in rows} == {household.reference, "HH-OTHER"}
    assert (
        not AccessLog.objects.filter(user=viewer, action=AccessLog.Action.SEARCH)
        .exclude(detail__found=1)
        .exists()
    )


def test_filters_by_status_site_and_district(client, operation, viewer, admin_user):
    from mobility.gazetteer.models import Location

    site = Location.objects.create(code="MOZ-SITE-T1", type=Location.Type.SITE, name="Test site",
                                   country_iso3="MOZ", operation=operation, admin1_code="MZ01",
                                   admin2_code="MZ0109")  # fmt: skip
    marked_household(operation, "HH-A", site_code=site.code)
    marked_household(operation, "HH-B")
    Household.objects.filter(reference="HH-B").update(status="moved", admin2_pcode="MZ0111")
    grant(operation, viewer, Capability.VIEW, by=admin_user)
    client.force_login(viewer)
    url = personal_urls(operation)["households"]

    def refs(**params):
        return [row["household"].reference for row in client.get(url, params).context["rows"]]

    assert refs() == ["HH-A", "HH-B"]
    assert refs(status="moved") == ["HH-B"]
    assert refs(site=site.code) == ["HH-A"]
    assert refs(admin2="MZ0109") == ["HH-A"]
    assert refs(admin2="MZ0111", status="active") == []


def test_the_list_flags_households_waiting_for_review(client, operation, viewer, admin_user):
    a, b = marked_household(operation, "HH-A"), marked_household(operation, "HH-B")
    marked_household(operation, "HH-C")
    pair_make(head_of(a), head_of(b))
    grant(operation, viewer, Capability.VIEW, by=admin_user)
    client.force_login(viewer)
    rows = client.get(personal_urls(operation)["households"]).context["rows"]
    assert {r["household"].reference: r["pending_review"] for r in rows} == {
        "HH-A": True,
        "HH-B": True,
        "HH-C": False,
    }


def test_the_household_list_reads_a_page_in_a_fixed_number_of_queries(
    client, operation, viewer, admin_user, django_assert_max_num_queries
):
    for n in range(12):
        marked_household(operation, f"HH-{n:02d}", head={"document_number": f"QX{n}"})
    grant(operation, viewer, Capability.VIEW, by=admin_user)
    client.force_login(viewer)
    with django_assert_max_num_queries(16):
        response = client.get(personal_urls(operation)["households"])
    assert len(response.context["rows"]) == 12


def test_the_index_lists_the_registries_of_the_users_operations(
    client, operation, other_operation, admin_user, django_user_model
):
    from mobility.core.models import Membership, Role

    user = member(django_user_model, "two", operation)
    Membership.objects.create(user=user, operation=other_operation, role=Role.VIEWER)
    grant(operation, user, Capability.VIEW, by=admin_user)
    marked_household(operation)
    client.force_login(user)
    response = client.get(reverse("registration:index"))
    rows = {r["operation"].slug: (r["households"], r["capabilities"]) for r in response.context["rows"]}
    assert rows == {operation.slug: (1, ["view"]), other_operation.slug: (0, [])}
    assert MARKER_GIVEN not in response.content.decode()
    # With one operation only, the index opens its registry.
    client.force_login(member(django_user_model, "one", operation))
    assert client.get(reverse("registration:index"))["Location"] == reverse(
        "registration:home", args=[operation.slug]
    )
