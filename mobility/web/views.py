"""The home page: what Mobility is, the countries in the gazetteer, the user's operations."""

from django.shortcuts import render

from mobility.core.permissions import Action, operations_for
from mobility.gazetteer.selectors import current_versions


def home(request):
    return render(
        request,
        "web/home.html",
        {
            "versions": current_versions(),
            "operations": operations_for(request.user, Action.VIEW).order_by("name"),
        },
    )
