"""The API under /api/v1/ (django-ninja): OpenAPI at /api/v1/openapi.json, interactive docs at /api/v1/docs."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DataError
from ninja.errors import ValidationError as InvalidRequest

from mobility.core import api as core_api
from mobility.core.apitools import MobilityAPI
from mobility.flows import api as flows_api
from mobility.gazetteer import api as gazetteer_api
from mobility.publishing import api_hapi
from mobility.registration import api as registration_api
from mobility.restrictions import api as restrictions_api

api = MobilityAPI(
    title="Mobility API",
    version="1",
    description=(
        "Mobility's API. Read endpoints answer anonymous callers with published data only; "
        "send `Authorization: Bearer <token>` (create one with `mobility tokens create`) or use a "
        'logged-in session to see more. List endpoints follow OCHA HDX HAPI: `{"data": [...]}`, '
        "`output_format=json|csv`, `offset`, `limit` (at most 10,000)."
    ),
    urls_namespace="api",
)
api.add_router("/metadata", gazetteer_api.metadata)
api.add_router("/gazetteer", gazetteer_api.router)
api.add_router("/affected-people", api_hapi.router)
api.add_router("/flows", flows_api.router)
api.add_router("/restrictions", restrictions_api.router)
api.add_router("/registration", registration_api.router)
api.add_router("/", core_api.router)
api.add_router("/", core_api.jobs)
api.add_exception_handler(ValidationError, lambda r, e: core_api.validation_error_handler(r, e, api))
api.add_exception_handler(PermissionDenied, lambda r, e: core_api.permission_denied_handler(r, e, api))
api.add_exception_handler(DataError, lambda r, e: core_api.data_error_handler(r, e, api))
api.add_exception_handler(InvalidRequest, lambda r, e: core_api.invalid_request_handler(r, e, api))
