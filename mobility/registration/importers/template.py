"""The registration list template: its columns (``records.TEMPLATE_COLUMNS``) as a CSV to fill in.

``data/template_registration.csv`` is the template with five invented example rows (two households:
one gives the household columns on the head's row only, the other on every row), as flows ships
``flows/data/template_flow_counts.csv``. ``template_download`` serves it (or the header alone with
``?empty=1``) to signed-in users; it holds no real person.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from ..records import TEMPLATE_COLUMNS

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "data" / "template_registration.csv"
TEMPLATE_NAME = "mobility_registration_template.csv"


def template_header() -> str:
    """The template's header line (UTF-8 text, with a line end)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(TEMPLATE_COLUMNS)
    return out.getvalue()


@login_required
@require_GET
def template_download(request):
    """The template with its example rows, or only its header (``?empty=1``), as a CSV download."""
    if request.GET.get("empty"):
        # A BOM so that Excel opens the accented and Arabic names of a filled copy as UTF-8.
        response = HttpResponse("\ufeff" + template_header(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{TEMPLATE_NAME}"'
        return response
    return FileResponse(
        TEMPLATE_PATH.open("rb"), as_attachment=True, filename=TEMPLATE_NAME, content_type="text/csv"
    )


# Joined into the registration URLs (mobility/registration/urls.py): /registration/template.csv
urlpatterns = [path("template.csv", template_download, name="import_template")]
