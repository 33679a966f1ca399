"""The demo: invented points of Mozambique with six months of published statuses and a few travel restrictions."""

from __future__ import annotations

import datetime as dt

from mobility.restrictions.demo import restrictions_demo
from mobility.restrictions.models import PoEStatus, PointOfEntry, TravelRestriction
from mobility.restrictions.selectors import Audience, points_as_of, restricting_countries


def test_the_demo_loads_published_and_a_second_run_stores_nothing(operation):
    first = restrictions_demo(operation)
    assert first["points"] == 6 and first["statuses"] == 20 and first["travel_restrictions"] == 7
    assert not PoEStatus.objects.filter(published=False).exists()
    assert set(PointOfEntry.objects.values_list("type", flat=True)) == {
        "land_border", "airport", "blue_border", "internal_transit", "stranded_site",
    }  # fmt: skip
    second = restrictions_demo(operation)
    assert (second["statuses"], second["travel_restrictions"], second["published"]) == (0, 0, 0)
    assert PoEStatus.objects.count() == 20 and TravelRestriction.objects.count() == 7

    public = Audience.public()
    on = {p.code: s.status for p, s in points_as_of(day=dt.date(2026, 8, 10), audience=public) if s}
    assert on["MOZ-RG"] == "closed" and on["MOZ-NEG"] == "closed" and on["MOZ-BEW"] == "partial"
    rg = next(s for p, s in points_as_of(day=dt.date(2026, 8, 10), audience=public) if p.code == "MOZ-RG")
    assert rg.daily_outflow == 150  # the correction of 1 August wins
    restricting = {
        r["imposing_iso3"]: r["kind"]
        for r in restricting_countries(iso3="MOZ", day=dt.date(2026, 7, 1), audience=public)
    }
    assert restricting == {"ZAF": "partial", "TZA": "total", "MWI": "medical", "ZWE": "partial"}
