"""Small template helpers shared by every page."""

from django import template
from django.utils import formats

register = template.Library()


@register.filter
def thousands(value):
    """A number with the locale's thousands separator (12 345 in French, 12,345 in English)."""
    if value in (None, ""):
        return ""
    try:
        return formats.number_format(
            value, decimal_pos=0 if isinstance(value, int) else None, use_l10n=True, force_grouping=True
        )
    except (TypeError, ValueError):
        return value


@register.simple_tag(takes_context=True)
def query_with(context, **changes):
    """The current query string with some parameters replaced (for pagination links)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = value
    return "?" + params.urlencode() if params else "?"
