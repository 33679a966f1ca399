"""Demo registry for Cabo Delgado: about 300 invented households with their members, a catalogue of
items and the entitlements to them.

Everything is invented (no real person): names are random combinations of Portuguese, Makua/Swahili
and Arabic-origin names heard in northern Mozambique, some with an Arabic-script alias; places are
real p-codes of Cabo Delgado from the loaded gazetteer (and the operation's sites, if any). A few
people are planted a second time in another household, spelled or dated a little differently, so
the duplicate review has something real-shaped to find. Households go through the one write path
(``services.households_write``), so a re-run updates nothing and adds nothing.
"""

from __future__ import annotations

import datetime as dt
import random

from django.contrib.auth import get_user_model

from mobility.core.models import Operation, PopulationGroup

from .models import Entitlement, Household, IdentityDocument, Item
from .records import HouseholdValues, IndividualValues
from .services import HouseholdBatchItem, households_write

SEED = 20260115
HOUSEHOLDS = 300
PLANTED = 12  # people registered a second time, in another household
PREFIX = "DEMO-CD"
FIRST_DAY = dt.date(2026, 1, 12)  # registration days: three weeks from here (all in the past)
PROVINCE = "MZ01"  # Cabo Delgado
FALLBACK_PCODES = ["MZ010901", "MZ010401", "MZ011101", "MZ011701", "MZ010301", "MZ010101"]

FEMALE = [
    "Amina", "Fátima", "Zainabo", "Anifa", "Rabia", "Saquina", "Mariamo", "Halima", "Asha", "Somaia",
    "Maria", "Ana", "Joana", "Luísa", "Teresa", "Isabel", "Celeste", "Graça", "Conceição", "Rosa",
    "Muanaisha", "Nasra", "Atija", "Felismina",
]  # fmt: skip
MALE = [
    "Abdul", "Assane", "Momade", "Issufo", "Rachide", "Saide", "Ali", "Bacar", "Selemane", "Muhamad",
    "João", "José", "António", "Manuel", "Pedro", "Carlos", "Tomás", "Francisco", "Ernesto", "Alberto",
    "Jamal", "Amisse", "Nurdine", "Chale",
]  # fmt: skip
FAMILY = [
    "Saide", "Assane", "Momade", "Bacar", "Abdala", "Issufo", "Amisse", "Chande", "Mussa", "Buanamade",
    "Cassimo", "Namashulua", "Muemedi", "Assumane", "Jamal", "Sualehe", "Anli", "Mbaraka", "Simões",
    "Pereira", "Cardoso", "Nhampossa", "Ossufo", "Selemane",
]  # fmt: skip
ARABIC = {
    "Amina": "أمينة", "Fátima": "فاطمة", "Halima": "حليمة", "Mariamo": "مريم", "Asha": "عائشة",
    "Abdul": "عبد", "Assane": "حسن", "Momade": "محمد", "Issufo": "يوسف", "Ali": "علي", "Saide": "سعيد",
    "Rachide": "رشيد", "Muhamad": "محمد", "Jamal": "جمال", "Mussa": "موسى", "Abdala": "عبد الله",
}  # fmt: skip
# Respellings field teams write for the same person.
RESPELL = {
    "Fátima": "Fatima", "Muhamad": "Mohamed", "Issufo": "Yussufo", "Momade": "Mamade", "Assane": "Hassane",
    "Saide": "Said", "Zainabo": "Zainab", "Mariamo": "Mariamu", "Conceição": "Conceicao", "Rachide": "Rashid",
    "Amisse": "Amise", "Abdala": "Abdallah", "Buanamade": "Bwanamade", "Luísa": "Luisa",
}  # fmt: skip
NEEDS = ["single_parent", "older_person_at_risk", "disability", "pregnant_or_lactating", "separated_child"]
ITEMS = [
    # code, name, unit, sector, entitlement: (quantity, per person, period in days)
    ("NFI-KIT", "Non-food item kit", "kit", "Shelter/NFI", (1, False, 180)),
    ("FOOD-BASKET", "Food basket (monthly)", "basket", "Food security", (1, False, 30)),
    ("SHELTER-KIT", "Emergency shelter kit", "kit", "Shelter/NFI", (1, False, 365)),
    ("HYGIENE-KIT", "Hygiene kit", "kit", "WASH", (1, False, 90)),
]


def _places(operation: Operation) -> tuple[list[str], list[str]]:
    """Admin-3 p-codes of Cabo Delgado in the current gazetteer (a fixed few without one), and the
    operation's site codes."""
    from mobility.gazetteer.models import AdminArea, GazetteerVersion, Location

    version = GazetteerVersion.objects.filter(country_iso3=operation.country_iso3, is_current=True).first()
    pcodes = []
    if version is not None:
        pcodes = sorted(
            AdminArea.objects.filter(version=version, level=3, pcode__startswith=PROVINCE).values_list(
                "pcode", flat=True
            )
        )
    sites = sorted(
        Location.objects.filter(operation=operation, type=Location.Type.SITE).values_list("code", flat=True)
    )
    return pcodes or FALLBACK_PCODES, sites


def _dob(rng: random.Random, age: int, on: dt.date) -> dt.date:
    return on - dt.timedelta(days=age * 365 + rng.randint(0, 364))


def _person(rng, reference, household, relationship, sex, family, age, on, *, document=False):
    given = rng.choice(FEMALE if sex == "f" else MALE)
    estimated = age >= 40 and rng.random() < 0.5  # older people often know only the year
    dob = _dob(rng, age, on)
    if estimated:
        dob = dt.date(dob.year, 7, 1)
    disability = {}
    if rng.random() < 0.06:
        disability = {
            d: 1 for d in ("seeing", "hearing", "walking", "cognition", "selfcare", "communication")
        }
        disability[rng.choice(list(disability))] = rng.choice([3, 4])
    documents = []
    if document:
        documents = [
            (
                IdentityDocument.Type.NATIONAL_ID,
                f"1101{rng.randint(0, 10**8 - 1):08d}{rng.choice('ABCDEFGHJ')}",
            )
        ]
    return IndividualValues(
        reference=reference,
        household_reference=household,
        relationship=relationship,
        sex=sex,
        given_name=given,
        family_name=family,
        other_names=[ARABIC[given]] if given in ARABIC and rng.random() < 0.4 else [],
        date_of_birth=dob.isoformat(),
        dob_estimated=estimated,
        birth_year=dob.year,
        disability=disability,
        documents=documents,
    )


def _household(rng, number: int, pcodes: list[str], sites: list[str]) -> HouseholdBatchItem:
    reference = f"{PREFIX}-{number:04d}"
    on = FIRST_DAY + dt.timedelta(days=rng.randint(0, 20))
    family = rng.choice(FAMILY)
    head_sex = "f" if rng.random() < 0.45 else "m"  # many households are headed by women
    members = [
        _person(
            rng,
            f"{reference}-1",
            reference,
            "head",
            head_sex,
            family,
            rng.randint(19, 70),
            on,
            document=rng.random() < 0.5,
        )
    ]
    if rng.random() < 0.7:
        spouse_sex = "m" if head_sex == "f" else "f"
        members.append(
            _person(rng, f"{reference}-2", reference, "spouse", spouse_sex, family, rng.randint(18, 65), on)
        )
    for _ in range(rng.choice([0, 1, 2, 2, 3, 3, 4, 5, 6])):
        members.append(
            _person(
                rng,
                f"{reference}-{len(members) + 1}",
                reference,
                "child",
                rng.choice("fm"),
                family,
                rng.randint(0, 17),
                on,
            )
        )
    if rng.random() < 0.15:
        members.append(
            _person(
                rng,
                f"{reference}-{len(members) + 1}",
                reference,
                "parent",
                rng.choice("fm"),
                rng.choice(FAMILY),
                rng.randint(60, 85),
                on,
            )
        )
    site = rng.choice(sites) if sites and rng.random() < 0.4 else ""
    needs = sorted({rng.choice(NEEDS) for _ in range(rng.choice([0, 0, 0, 1, 1, 2]))})
    household = HouseholdValues(
        reference=reference,
        size=len(members),
        location_pcode="" if site else rng.choice(pcodes),
        site_code=site,
        origin_pcode=rng.choice(pcodes),
        displacement_date=on - dt.timedelta(days=rng.randint(30, 1500)),
        population_group=PopulationGroup.IDP if rng.random() < 0.9 else PopulationGroup.HOST,
        specific_needs=needs,
        phone=f"+258{rng.choice(['82', '84', '85', '86', '87'])}{rng.randint(0, 10**7 - 1):07d}"
        if rng.random() < 0.6
        else "",
        consent=True,
        consent_scope=["assistance", "registration"],
        registered_on=on,
    )
    return HouseholdBatchItem(household=household, members=members)


def _swap_day_month(iso: str) -> str:
    day = dt.date.fromisoformat(iso)
    if day.day > 12 or day.day == day.month:
        return (day + dt.timedelta(days=1)).isoformat()
    return dt.date(day.year, day.day, day.month).isoformat()


def _planted(rng, originals: list[HouseholdBatchItem], pcodes) -> list[HouseholdBatchItem]:
    """Heads registered again, alone, in another place: respelled, dated or aliased a little differently."""
    out = []
    for n, original in enumerate(rng.sample(originals, PLANTED), start=1):
        head = original.members[0]
        reference = f"{PREFIX}-R{n:03d}"
        given = RESPELL.get(head.given_name, head.given_name)
        family = RESPELL.get(head.family_name, head.family_name)
        variant = n % 3
        dob = head.date_of_birth
        if variant == 1:
            dob = _swap_day_month(dob)  # day and month swapped
        elif variant == 2:
            dob = f"{head.birth_year}-07-01"  # only the year remembered
        person = IndividualValues(
            reference=f"{reference}-1",
            household_reference=reference,
            relationship="head",
            sex=head.sex,
            given_name=given,
            family_name=family,
            other_names=list(head.other_names),
            date_of_birth=dob,
            dob_estimated=variant == 2,
            birth_year=int(dob[:4]),
            disability=dict(head.disability),
        )
        household = HouseholdValues(
            reference=reference,
            size=1,
            location_pcode=rng.choice(pcodes),
            origin_pcode=original.household.origin_pcode,
            displacement_date=original.household.displacement_date,
            population_group=original.household.population_group,
            phone=original.household.phone if variant == 0 else "",  # the same phone, once in three
            consent=True,
            consent_scope=["assistance", "registration"],
            registered_on=original.household.registered_on + dt.timedelta(days=9),
        )
        out.append(HouseholdBatchItem(household=household, members=[person]))
    return out


def _catalogue(operation: Operation, by) -> tuple[int, int]:
    """The four items and their entitlements: through the assistance services when a user is known."""
    items = entitlements = 0
    try:
        from .assistance import entitlement_set, item_create
    except ImportError:  # pragma: no cover - the assistance services are part of the app
        item_create = entitlement_set = None
    for code, name, unit, sector, (quantity, per_person, period) in ITEMS:
        if item_create is not None and by is not None:
            item = item_create(operation=operation, code=code, name=name, unit=unit, sector=sector, by=by)
            entitlement_set(
                operation=operation,
                item=item,
                by=by,
                quantity=quantity,
                per_person=per_person,
                period_days=period,
            )
        else:
            item, _ = Item.objects.update_or_create(
                operation=operation, code=code, defaults={"name": name, "unit": unit, "sector": sector}
            )
            Entitlement.objects.update_or_create(
                operation=operation,
                item=item,
                defaults={"quantity": quantity, "per_person": per_person, "period_days": period},
            )
        items += 1
        entitlements += 1
    return items, entitlements


def registration_demo(operation: Operation, *, by=None) -> dict[str, int]:
    """Store the demo registry of the operation (idempotent) and return what it holds.

    ``by`` is the user the records and the catalogue are made by (default: the first superuser).
    """
    if by is None:
        by = get_user_model().objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    rng = random.Random(SEED)
    pcodes, sites = _places(operation)
    households = [_household(rng, n, pcodes, sites) for n in range(1, HOUSEHOLDS + 1)]
    households += _planted(rng, households, pcodes)
    written = households_write(
        operation=operation, items=households, by=by, source=Household.Source.IMPORT, today=FIRST_DAY
    )
    items, entitlements = _catalogue(operation, by)
    return {
        "households": len(households),
        "individuals": sum(len(h.members) for h in households),
        "households_created": written.created,
        "households_updated": written.updated,
        "planted_duplicates": PLANTED,
        "sites_used": len(sites),
        "items": items,
        "entitlements": entitlements,
    }
