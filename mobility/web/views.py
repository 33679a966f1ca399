"""The home page: what Mobility is, the countries in the gazetteer, the user's operations, the latest public figures."""

from django.shortcuts import render

from mobility.core.models import PopulationGroup
from mobility.core.permissions import Action, operations_for
from mobility.gazetteer.selectors import current_versions
from mobility.publishing.selectors import published_cells


def latest_idp_figures() -> list:
    """The national IDP figure of each operation's newest current release, baseline first (one query)."""
    cells = (
        published_cells(admin_level=0, population_group=PopulationGroup.IDP)
        .select_related("release__operation")
        .order_by("-release__reporting_round", "-release__version", "assessment_type")
    )
    latest = {}
    for cell in cells:
        latest.setdefault(cell.release.operation_id, cell)
    return sorted(latest.values(), key=lambda cell: cell.release.operation.name)


def home(request):
    return render(
        request,
        "web/home.html",
        {
            "versions": current_versions(),
            "operations": operations_for(request.user, Action.VIEW).order_by("name"),
            "figures": latest_idp_figures(),
        },
    )
