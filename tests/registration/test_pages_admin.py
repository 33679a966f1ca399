"""The Django admin shows registration records by reference and status only: no personal value, no search on one."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from mobility.registration import review
from mobility.registration.models import Household, IdentityDocument, Individual

from .pages_world import MARKER_FAMILY, MARKER_GIVEN, MARKERS, head_of, marked_household, pair_make

pytestmark = pytest.mark.django_db

PERSONAL_COLUMNS = {
    Household: {"phone", "address", "specific_needs", "phone_hash"},
    Individual: {"given_name", "family_name", "other_names", "date_of_birth", "disability", "name_hash"},
}


def test_personal_columns_are_neither_shown_nor_searchable():
    for model, personal in PERSONAL_COLUMNS.items():
        model_admin = admin.site._registry[model]
        shown = set(model_admin.fields) | set(model_admin.list_display) | set(model_admin.search_fields)
        assert not shown & personal, model
    assert IdentityDocument not in admin.site._registry


def test_no_admin_page_shows_a_marker(client, operation, admin_user):
    household = marked_household(operation)
    other = marked_household(operation, "HH-2")
    pair = pair_make(head_of(household), head_of(other))
    review.merge(survivor=head_of(household), merged=head_of(other), by=admin_user, pair=pair)
    client.force_login(admin_user)
    person = head_of(household)
    urls = [
        reverse("admin:registration_household_changelist"),
        reverse("admin:registration_household_change", args=[household.pk]),
        reverse("admin:registration_individual_changelist"),
        reverse("admin:registration_individual_change", args=[person.pk]),
        reverse("admin:registration_matchpair_changelist"),
        reverse("admin:registration_merge_changelist"),
        reverse("admin:registration_accesslog_changelist"),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for marker in MARKERS:
            assert marker not in html, (url, marker)
    for query in (MARKER_GIVEN, MARKER_FAMILY, f"{MARKER_GIVEN} {MARKER_FAMILY}"):
        response = client.get(reverse("admin:registration_individual_changelist"), {"q": query})
        assert response.context["cl"].result_count == 0
    response = client.get(reverse("admin:registration_individual_changelist"), {"q": person.reference})
    assert response.context["cl"].result_count == 1


def test_records_cannot_be_changed_from_the_admin(client, operation, admin_user):
    household = marked_household(operation)
    client.force_login(admin_user)
    url = reverse("admin:registration_household_change", args=[household.pk])
    client.post(url, {"reference": "CHANGED", "status": "closed"})
    household.refresh_from_db()
    assert (household.reference, household.status) == ("HH-MARK", "active")
    assert client.get(reverse("admin:registration_household_add")).status_code == 403
