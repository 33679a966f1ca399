"""The public and authenticated API under /api/v1/ (django-ninja)."""

from ninja import NinjaAPI

api = NinjaAPI(title="Mobility API", version="1", urls_namespace="api")
