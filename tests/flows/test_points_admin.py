"""The admin lists every flows model (a site administrator looks at what imports stored)."""

from __future__ import annotations

import pytest

from mobility.flows.demo import flows_demo

pytestmark = pytest.mark.django_db

MODELS = [
    "corridor",
    "flowmonitoringpoint",
    "flowcount",
    "flowdaily",
    "flowbreakdown",
    "flowsurvey",
    "flowestimate",
    "flowpublication",
]


def test_every_flows_model_has_an_admin_page(client, admin_user, operation):
    flows_demo(operation)
    client.force_login(admin_user)
    for model in MODELS:
        response = client.get(f"/admin/flows/{model}/")
        assert response.status_code == 200, model
    page = client.get("/admin/flows/flowmonitoringpoint/").content.decode()
    assert "Mon-Sat 06:00-18:00" in page and "Negomano (Unity Bridge)" in page
    assert client.get("/admin/flows/flowdaily/add/").status_code == 403  # derived: not edited by hand
