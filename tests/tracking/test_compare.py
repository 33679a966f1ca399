"""Comparing two rounds: change per area (absolute and %), areas new and no longer assessed, biggest movers; map, table, CSV."""

import csv
import io

import pytest

from mobility.core.models import Round
from mobility.core.services import round_advance
from tests.gazetteer.gazetteer_fixtures import moz_gazetteer_fixture  # noqa: F401
from tests.tracking.dashboard_fixtures import publish_cells, two_rounds

pytestmark = pytest.mark.django_db


@pytest.fixture
def rounds(operation, moz_gazetteer):
    return two_rounds(operation)


def test_staff_compare_the_last_two_rounds_by_default(client, data_manager, rounds, operation):
    client.force_login(data_manager)
    page = client.get(f"/tracking/{operation.slug}/compare/").content.decode()
    assert "round 1 → round 2" in page and "Draft — not published" in page
    assert 'id="compare-table"' in page and 'data-mode="diverging"' in page
    assert "+986,454" in page  # Ancuabe, the biggest mover
    assert "Niassa" not in page
    movers = page.split('id="movers"')[1].split("</table>")[0]
    assert movers.index("Ancuabe") < movers.index("Balama")


def test_compare_json_for_the_map(client, data_manager, rounds, operation):
    client.force_login(data_manager)
    data = client.get(f"/tracking/{operation.slug}/compare/data.json?a=1&b=2&level=2&group=IDP").json()
    areas = {a["pcode"]: a for a in data["areas"]}
    assert (data["round_a"], data["round_b"], data["draft"]) == (1, 2, True)
    assert areas["MZ0104"]["status"] == "new" and areas["MZ0103"]["status"] == "gone"
    assert areas["MZ0102"]["change"] == 681 and areas["MZ0102"]["change_pct"] == 9.3


def test_compare_csv(client, data_manager, rounds, operation):
    client.force_login(data_manager)
    response = client.get(f"/tracking/{operation.slug}/compare/?a=1&b=2&admin_level=1&format=csv")
    assert 'filename="mozambique-cabo-delgado-rounds-1-2-admin1.csv"' in response["Content-Disposition"]
    [row] = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert (row["pcode"], row["population_a"], row["population_b"], row["change"], row["status"]) == (
        "MZ01",
        "8522",
        "996254",
        "987732",
        "both",
    )
    assert row["draft"] == "yes"


def test_the_public_compares_published_releases_only(client, rounds, operation):
    r1, r2 = rounds
    page = client.get(f"/tracking/{operation.slug}/compare/").content.decode()
    assert "round 1 → round 1" in page  # only one round is public
    round_advance(round=r2, to=Round.Status.PUBLISHED)
    publish_cells(r2)
    response = client.get(f"/tracking/{operation.slug}/compare/?format=csv")
    rows = {r["pcode"]: r for r in csv.DictReader(io.StringIO(response.content.decode()))}
    # Balama was suppressed in round 1: its change is not computed, so its value cannot be recovered.
    assert rows["MZ0102"]["population_a"] == "suppressed" and rows["MZ0102"]["change"] == ""
    assert rows["MZ0101"]["change"] == str(987654 - 1200) and rows["MZ0101"]["draft"] == ""
    assert "7319" not in response.content.decode()


def test_bad_round_numbers_are_a_clear_400(client, rounds, operation):
    assert client.get(f"/tracking/{operation.slug}/compare/?a=one").status_code == 400
    assert client.get(f"/tracking/{operation.slug}/compare/?a=9").status_code == 404


def test_compare_query_counts(client, data_manager, rounds, operation, django_assert_max_num_queries):
    client.force_login(data_manager)
    client.get(f"/tracking/{operation.slug}/compare/")
    with django_assert_max_num_queries(10):
        client.get(f"/tracking/{operation.slug}/compare/")
    with django_assert_max_num_queries(10):
        client.get(f"/tracking/{operation.slug}/compare/data.json")
