"""HAPI-compatible read API: /api/v1/affected-people/idps and /returnees (being written)."""

from ninja import Router

router = Router(tags=["affected people"])
