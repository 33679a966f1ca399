"""Template context shared by every page: the navigation bar and the languages."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

# (url name, label, url names that mark the item as current, needs login)
NAV_ITEMS = [
    ("home", _("Home"), ("home",), False),
    ("tracking:index", _("Tracking"), ("tracking:",), False),
    ("flows:index", _("Flows"), ("flows:",), False),
    ("restrictions:index", _("Points of entry"), ("restrictions:",), False),
    ("gazetteer:index", _("Gazetteer"), ("gazetteer:",), False),
    ("core:operations", _("Operations"), ("core:operation",), False),
    ("core:imports", _("Imports"), ("core:import",), True),
    ("collection:forms", _("Collection"), ("collection:",), True),
    ("registration:index", _("Registration"), ("registration:",), True),
    ("gazetteer:reviews", _("Review list"), ("gazetteer:review",), True),
]


def navigation(request):
    """The navigation items (with the current one marked) and the interface languages."""
    match = getattr(request, "resolver_match", None)
    current = (
        f"{match.namespace}:{match.url_name}"
        if match and match.namespace
        else (match.url_name if match else "")
    )
    authenticated = getattr(getattr(request, "user", None), "is_authenticated", False)
    items = []
    for name, label, prefixes, needs_login in NAV_ITEMS:
        if needs_login and not authenticated:
            continue
        active = any(current.startswith(p) for p in prefixes)
        if name == "gazetteer:index" and current.startswith("gazetteer:review"):
            active = False
        items.append({"url": reverse(name), "label": label, "active": active})
    return {
        "nav_items": items,
        "api_docs_url": "/api/v1/docs",
        "interface_languages": settings.LANGUAGES,
    }
