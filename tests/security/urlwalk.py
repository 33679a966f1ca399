"""Every address in the URL conf, with a concrete URL built for it (samples stand in for the parameters)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RoutePattern


@dataclass(frozen=True)
class Route:
    route: str  # the pattern as written, e.g. "collect/<slug:operation>/submission"
    name: str  # "namespace:name"
    params: tuple[str, ...]
    callback: object

    @property
    def csrf_exempt(self) -> bool:
        return bool(getattr(self.callback, "csrf_exempt", False))

    @property
    def module(self) -> str:
        return getattr(self.callback, "__module__", "") or ""


def _params(pattern) -> list[str]:
    if isinstance(pattern, RoutePattern):
        return list(pattern.converters)
    return list(pattern.regex.groupindex)


def routes() -> list[Route]:
    found: list[Route] = []

    def walk(patterns, prefix: str, namespace: str | None, params: list[str]):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = namespace
                if p.namespace:
                    ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
                walk(p.url_patterns, prefix + str(p.pattern), ns, params + _params(p.pattern))
            elif isinstance(p, URLPattern):
                name = f"{namespace}:{p.name}" if namespace and p.name else (p.name or "")
                found.append(
                    Route(prefix + str(p.pattern), name, tuple(params + _params(p.pattern)), p.callback)
                )

    walk(get_resolver().url_patterns, "", None, [])
    return found


def sample_values(operation_slug: str) -> dict[str, list[str]]:
    """Candidate values per parameter name, tried in order until reverse() accepts one."""
    return {
        "slug": [operation_slug],
        "operation": [operation_slug],
        "country": ["MOZ"],
        "location_code": ["MOZ"],
        "pcode": ["MZ01"],
        "app_label": ["core", "auth"],
        "fmt": ["csv"],
        "rest": ["Submissions"],
    }


def url_for(route: Route, operation_slug: str) -> str | None:
    """A URL that reverses from this route's name, or None when no sample fits (the caller reports it)."""
    samples = sample_values(operation_slug)
    if not route.name:
        # Unnamed (the admin's redirects and catch-all): put the samples into the pattern's text.
        def sample(match):
            return samples.get(match.group(1), ["1"])[0]

        text = re.sub(r"\(\?P<(\w+)>[^)]*\)", sample, route.route)
        text = re.sub(r"<(?:\w+:)?(\w+)>", sample, text)
        return "/" + text.replace("^", "").replace("$", "")
    options = [samples.get(p, ["1", "x1"]) for p in route.params]
    for combination in itertools.product(*options):
        try:
            return reverse(route.name, kwargs=dict(zip(route.params, combination, strict=True)))
        except NoReverseMatch:
            continue
    return None
