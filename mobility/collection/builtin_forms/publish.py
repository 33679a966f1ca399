"""The ready-made forms by key, their admin-area media from the gazetteer, publishing and binding them."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction

from .baseline import BASELINE
from .common import BUILTIN_NO_GAZETTEER, BUILTIN_NO_ROUND, BUILTIN_UNKNOWN, FORMS_DIR, Builtin
from .ett import ETT
from .site import SITE

if TYPE_CHECKING:
    from mobility.core.models import Operation, Round

BUILTINS: dict[str, Builtin] = {b.key: b for b in (BASELINE, SITE, ETT)}


def builtin_get(key: str) -> Builtin:
    try:
        return BUILTINS[key]
    except KeyError:
        raise ValidationError(BUILTIN_UNKNOWN.format(name=key, allowed=", ".join(BUILTINS))) from None


# --- admin-area media from the gazetteer ------------------------------------------------------------


def admin_media(country_iso3: str) -> dict[str, bytes]:
    """admin1.csv (name, label), admin2.csv (+ admin1), admin3.csv (+ admin1, admin2) of the current gazetteer."""
    from mobility.gazetteer.models import AdminArea, GazetteerVersion

    country = country_iso3.strip().upper()
    version = GazetteerVersion.objects.filter(country_iso3=country, is_current=True).first()
    if version is None:
        raise ValidationError(BUILTIN_NO_GAZETTEER.format(country=country))
    areas = list(
        AdminArea.objects.filter(version=version, level__in=(1, 2, 3)).values_list(
            "pcode", "level", "name", "parent__pcode"
        )
    )
    parent = {pcode: up or "" for pcode, _, _, up in areas}
    rows: dict[int, list[list[str]]] = {1: [], 2: [], 3: []}
    for pcode, level, name, _up in areas:
        ancestors = []
        node = pcode
        for _ in range(level - 1):
            node = parent.get(node, "")
            ancestors.insert(0, node)
        rows[level].append([pcode, name, *ancestors])
    out = {}
    for level, header in (
        (1, ["name", "label"]),
        (2, ["name", "label", "admin1"]),
        (3, ["name", "label", "admin1", "admin2"]),
    ):
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(header)
        for row in sorted(rows[level], key=lambda r: (r[1].casefold(), r[0])):
            writer.writerow(row)
        out[f"admin{level}.csv"] = text.getvalue().encode("utf-8")
    return out


# --- publishing -------------------------------------------------------------------------------------


@dataclass
class Published:
    version: object  # FormVersion
    binding: object  # Binding
    media: list[str]


def open_round(operation: Operation) -> Round | None:
    """The newest round still open for data collection (not published, not superseded)."""
    from mobility.core.models import Round

    return (
        Round.objects.filter(operation=operation)
        .exclude(status__in=(Round.Status.PUBLISHED, Round.Status.SUPERSEDED))
        .order_by("-number", "-version")
        .first()
    )


@transaction.atomic
def builtin_publish(*, operation: Operation, key: str, round_number: int | None = None, by=None) -> Published:
    """Publish a ready-made form to an operation with admin lists from its gazetteer, and bind it."""
    from ..bindings import binding_save
    from ..services import form_publish, media_attach

    spec = builtin_get(key)
    media = admin_media(operation.country_iso3)  # refuses a country without a gazetteer first
    constants = dict(spec.constants)
    if spec.needs_round:
        if round_number is None:
            round_ = open_round(operation)
            if round_ is None:
                raise ValidationError(BUILTIN_NO_ROUND.format(operation=operation.name))
            round_number = round_.number
        constants["round"] = int(round_number)
    version = form_publish(operation=operation, data=spec.workbook_bytes(), filename=spec.filename, by=by)
    for name, data in media.items():
        media_attach(version=version, name=name, data=data, content_type="text/csv", by=by)
    binding = binding_save(
        form=version.form, target=spec.target, mapping=spec.mapping, constants=constants, by=by
    )
    return Published(version=version, binding=binding, media=sorted(media))


def builtin_workbooks_write(directory: Path = FORMS_DIR) -> list[Path]:
    """Write the ready-made workbooks (run after changing a form here, and bump its version)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for spec in BUILTINS.values():
        path = directory / spec.filename
        path.write_bytes(spec.workbook())
        paths.append(path)
    return paths
