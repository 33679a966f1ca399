"""A small registry for the page and review tests: granted users, households with planted markers, pairs.

The marker values are unusual enough that finding one in a page can only mean a personal value leaked.
"""

from __future__ import annotations

from mobility.core.models import Membership, Role
from mobility.registration import access
from mobility.registration.models import Capability, Individual, MatchPair

from .factories import household_make

PASSWORD = "a-long-test-password"
MARKER_GIVEN = "Qwyzzeline"
MARKER_FAMILY = "Xandrovska"
MARKER_PHONE = "+258 84 777 0123"
MARKER_PHONE_DIGITS = "847770123"
MARKER_DOCUMENT = "QX99887766M"
MARKER_DOB = "1979-02-13"
MARKERS = (MARKER_GIVEN, MARKER_FAMILY, MARKER_PHONE_DIGITS, MARKER_DOCUMENT, MARKER_DOB)

# What the dedup engine writes per comparison (the field names the engine uses; weights in bits).
COMPARISONS = {
    "given_name": {"level": "Jaro-Winkler >= 0.92", "weight": 4.1, "agrees": True},
    "family_name": {"level": "exact", "weight": 6.3, "agrees": True},
    "date_of_birth": {"level": "day and month swapped", "weight": 2.2, "agrees": True},
    "sex": {"level": "exact", "weight": 0.9, "agrees": True},
    "phone": {"level": "different", "weight": -3.4, "agrees": False},
}


def member(django_user_model, username: str, operation, role=Role.VIEWER):
    user = django_user_model.objects.create_user(username=username, password=PASSWORD)
    Membership.objects.create(user=user, operation=operation, role=role)
    return user


def grant(operation, user, *capabilities: Capability, by):
    access.grant_set(operation=operation, user=user, capabilities=[c.value for c in capabilities], by=by)
    if hasattr(user, "_registration_caps"):
        del user._registration_caps
    return user


def marked_household(operation, reference: str = "HH-MARK", **kwargs):
    """A household whose head carries every marker (name, phone, document, date of birth)."""
    head = {
        "given_name": MARKER_GIVEN,
        "family_name": MARKER_FAMILY,
        "date_of_birth": MARKER_DOB,
        "document_type": "national_id",
        "document_number": MARKER_DOCUMENT,
        **kwargs.pop("head", {}),
    }
    kwargs.setdefault("phone", MARKER_PHONE)
    kwargs.setdefault("household_size", "2")
    kwargs.setdefault("members", [{"given_name": "Zito", "family_name": MARKER_FAMILY}])
    return household_make(operation, reference, head=head, **kwargs)


def pair_make(
    left: Individual, right: Individual, *, probability: float = 0.8, comparisons=None
) -> MatchPair:
    """A pending pair as the matching would write it (left has the smaller id)."""
    if left.pk > right.pk:
        left, right = right, left
    return MatchPair.objects.create(
        operation=left.operation,
        left=left,
        right=right,
        match_probability=probability,
        match_weight=7.5,
        comparisons=COMPARISONS if comparisons is None else comparisons,
    )


def head_of(household) -> Individual:
    return household.members.get(relationship="head")


GIVEN = "Maria Ana Joana Rosa Teresa Lúcia Isabel Helena Graça Luísa João José António Manuel Carlos Francisco Alberto Armando Fernando Paulo Aisha Khadija Maryam Zainab Salma Ali Hassan Ibrahim Yusuf Omar".split()  # noqa: E501
FAMILY = "Nhantumbo Sitoe Cossa Mondlane Tembe Mabunda Muianga Langa Massingue Cumbe Machava Matsinhe Chambal Mucavele Ngovene Bila Mahumane Zandamela Guambe Mazive Uamusse Tivane Nhaca Khan Shah Malik".split()  # noqa: E501


def background_registry(operation, *, households: int = 150, seed: int = 7) -> int:
    """A seeded registry of a few hundred people (enough to train the matching model); returns people."""
    import random

    from .factories import household_rows, rows_to_items

    rng = random.Random(seed)
    rows: list[dict] = []
    for n in range(households):
        family = rng.choice(FAMILY)
        size = rng.randint(1, 6)
        people = []
        for given in rng.sample(GIVEN, size):
            year = rng.randint(1950, 2023)
            people.append({"given_name": given, "family_name": family, "sex": rng.choice("fm"), "age": "",
                           "date_of_birth": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"})  # fmt: skip
        head, *members = people
        rows += household_rows(
            f"BG-{n:04d}",
            head=head,
            members=members,
            household_size=str(size),
            phone=f"+258 84 {rng.randint(100, 999)} {rng.randint(1000, 9999)}" if rng.random() < 0.7 else "",
        )
    from mobility.registration.services import households_write

    households_write(operation=operation, items=rows_to_items(rows))
    return len(rows)
