"""Readers of tracking figures: staff read analytics cells with drafts, the public reads published cells only."""

import pytest

from mobility.core.models import Round
from mobility.core.services import round_advance
from mobility.tracking import selectors
from mobility.tracking.filters import FILTER_INVALID, TrackingFilter
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401
from tests.tracking.dashboard_fixtures import IDP, RET, ROUND_2, make_round, publish_cells, two_rounds

pytestmark = pytest.mark.django_db


@pytest.fixture
def rounds(operation, moz_gazetteer):
    return two_rounds(operation)


def test_staff_see_every_round_and_the_public_only_published_ones(operation, rounds):
    staff = selectors.round_list(operation=operation, published_only=False)
    public = selectors.round_list(operation=operation, published_only=True)
    assert [(r.number, r.draft) for r in staff] == [(1, False), (2, True)]
    assert [(r.number, r.draft) for r in public] == [(1, False)]


def test_the_dashboard_defaults_to_the_latest_round_idps_and_admin2(operation, rounds):
    data = selectors.dashboard(operation=operation, filters=TrackingFilter(), published_only=False)
    assert (data.round.number, data.population_group, data.admin_level, data.draft) == (2, IDP, 2, True)
    assert data.levels == [1, 2] and data.groups == [IDP, RET]
    assert [(c.pcode, c.individuals) for c in data.cells] == [
        ("MZ0101", 987654),
        ("MZ0102", 8000),
        ("MZ0104", 600),
    ]
    assert data.cells[0].name == "Ancuabe"
    headline = {h["group"]: h for h in data.headline}
    assert headline[IDP]["individuals"] == 996254
    assert headline[IDP]["change"] == 996254 - 8522 and data.previous.number == 1


def test_the_public_dashboard_shows_suppressed_cells_without_a_value(operation, rounds):
    data = selectors.dashboard(operation=operation, filters=TrackingFilter(), published_only=True)
    assert data.round.number == 1 and not data.draft
    cells = {c.pcode: c for c in data.cells}
    assert cells["MZ0102"].individuals is None and cells["MZ0102"].suppressed
    assert cells["MZ0101"].individuals == 1200
    assert data.cells[-1].pcode in {"MZ0102", "MZ0103"}  # suppressed cells sort last


def test_the_public_cannot_ask_for_an_unpublished_round(operation, rounds):
    with pytest.raises(LookupError, match="Round 2"):
        selectors.dashboard(
            operation=operation, filters=TrackingFilter(reporting_round=2), published_only=True
        )


def test_filter_by_admin1_and_level(operation, rounds):
    f = TrackingFilter(admin_level=1, population_group=RET, reporting_round=1)
    data = selectors.dashboard(operation=operation, filters=f, published_only=False)
    assert [(c.pcode, c.individuals) for c in data.cells] == [("MZ01", 340)]


def test_a_bad_filter_value_names_the_field():
    with pytest.raises(ValueError) as exc:
        TrackingFilter.from_query({"group": "ALIENS"})
    assert str(exc.value).startswith(FILTER_INVALID.split(":")[0].format(field="population_group"))
    assert TrackingFilter.from_query({"level": "2", "round": "3", "group": ""}).admin_level == 2


def test_the_filter_reads_both_tables(operation, rounds):
    from mobility.publishing.models import PublishedCell
    from mobility.tracking.models import AreaFigure

    f = TrackingFilter(operation=operation.slug, reporting_round=1, admin_level=2, population_group=IDP)
    assert AreaFigure.objects.filter(f.area_figure_q()).count() == 3
    assert PublishedCell.objects.filter(f.published_cell_q()).count() == 3
    f2 = TrackingFilter(operation=operation.name, reporting_round=2)
    assert not PublishedCell.objects.filter(f2.published_cell_q()).exists()


def test_trend_per_group_across_rounds(operation, rounds):
    staff = selectors.trend(operation=operation, filters=TrackingFilter(), published_only=False)
    assert staff["rounds"] == [1, 2] and staff["draft"] == [False, True]
    idp = next(s for s in staff["series"] if s["group"] == IDP)
    assert idp["values"] == [8522, 996254]
    public = selectors.trend(
        operation=operation, filters=TrackingFilter(admin2_code="MZ0102"), published_only=True
    )
    assert public["rounds"] == [1]
    idp = next(s for s in public["series"] if s["group"] == IDP)
    assert idp["values"] == [None] and idp["suppressed"] == [True]


def test_class_breaks_are_quantiles():
    assert selectors.class_breaks([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) == [2, 4, 6, 8, 10]
    assert selectors.class_breaks([5, 5, 5]) == [5]
    assert selectors.class_breaks([]) == []


def test_round_compare_for_staff(operation, rounds):
    c = selectors.round_compare(
        operation=operation, round_a=1, round_b=2, level=2, group=IDP, published_only=False
    )
    rows = {r.pcode: r for r in c}
    assert (rows["MZ0101"].a, rows["MZ0101"].b, rows["MZ0101"].change) == (1200, 987654, 986454)
    assert rows["MZ0102"].change == 681 and rows["MZ0102"].change_pct == pytest.approx(9.3)
    assert [r.pcode for r in c.new] == ["MZ0104"] and [r.pcode for r in c.gone] == ["MZ0103"]
    assert [r.pcode for r in c.movers] == ["MZ0101", "MZ0102"]
    assert c.draft and (c.total_a, c.total_b) == (8522, 996254)


def test_round_compare_for_the_public_needs_published_rounds(operation, rounds):
    with pytest.raises(LookupError):
        selectors.round_compare(
            operation=operation, round_a=1, round_b=2, level=2, group=IDP, published_only=True
        )


def test_a_change_is_never_computed_from_a_suppressed_value(operation, moz_gazetteer):
    r1, r2 = two_rounds(operation)
    round_advance(round=r2, to=Round.Status.PUBLISHED)
    publish_cells(r2)
    c = selectors.round_compare(
        operation=operation, round_a=1, round_b=2, level=2, group=IDP, published_only=True
    )
    balama = next(r for r in c if r.pcode == "MZ0102")
    assert (
        balama.a is None
        and balama.a_suppressed
        and balama.change is None
        and balama.b == ROUND_2[("MZ01", "MZ0102")][0]
    )
    assert not c.draft


def test_area_page_of_a_district(operation, rounds):
    page = selectors.area_page(
        operation=operation, pcode="MZ0101", filters=TrackingFilter(), published_only=False
    )
    assert page.name == "Ancuabe" and page.admin_level == 2 and page.round.number == 2
    assert page.reasons == [{"reason": "conflict", "label": "Conflict", "individuals": 987654}]
    assert {g["group"]: g["individuals"] for g in page.groups} == {IDP: 987654, RET: 500}


def test_area_page_of_a_province_lists_its_districts(operation, rounds):
    page = selectors.area_page(
        operation=operation, pcode="MZ01", filters=TrackingFilter(reporting_round=1), published_only=True
    )
    assert page.admin_level == 1
    children = {c.pcode: c.individuals for c in page.children}
    assert children == {"MZ0101": 1200, "MZ0102": None, "MZ0103": None}
    assert page.reasons == [] and not page.draft


def test_a_round_with_no_figures_is_not_listed(operation, rounds):
    make_round(operation, 3, {})
    assert [r.number for r in selectors.round_list(operation=operation, published_only=False)] == [1, 2]
