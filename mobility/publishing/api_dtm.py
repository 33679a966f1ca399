"""DTM API v3-compatible read API under /api/dtm/v3/ (being written)."""

from ninja import NinjaAPI

api = NinjaAPI(title="Mobility — DTM API v3 compatible", version="3", urls_namespace="dtm", docs_url="/docs")
