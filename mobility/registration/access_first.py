"""Check a registration capability before a service's transaction opens.

``access.require`` logs a refusal (a DENIED line in the access log); inside the service's own
transaction that line would be rolled back with everything else, so the check runs first.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.db import transaction

from . import access


def requires(capability, operation_of: Callable[[dict], object]):
    """Decorate a keyword-only service: require ``capability`` of ``by``, then run it atomically."""

    def wrap(service):
        atomic = transaction.atomic(service)

        @functools.wraps(service)
        def checked(**kwargs):
            access.require(kwargs.get("by"), operation_of(kwargs), capability)
            return atomic(**kwargs)

        return checked

    return wrap
