"""Bindings: which domain importer a form's submissions go to, and how its fields fill the importer's columns.

A binding is ``{target column: submission path}`` (``mapping``) plus ``{column or profile key: value}``
(``constants``, e.g. ``{"round": 3}``). The columns are those of the target's file importer, so a
submission is validated exactly as a row of a file would be. Fields inside one repeat make one row per
repeat entry (a baseline submission with three population groups is three template rows).

Saving a changed mapping makes a new version; saving the same mapping again returns the current one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from mobility.core.models import Operation
from mobility.core.services import audit_record

from .models import Binding, Form, FormVersion

BINDING_TARGET_UNKNOWN = '"{target}" is not a binding target; use one of: {allowed}'
BINDING_NO_VERSION = 'The form "{form_id}" has no published version to bind'
BINDING_COLUMN_UNKNOWN = '"{column}" is not a column of {target}; its columns are: {allowed}'
BINDING_FIELD_UNKNOWN = 'column {column}: the form has no field "{path}"'
BINDING_FIELD_AMBIGUOUS = 'column {column}: several fields are named "{path}" ({paths}); give the full path'
BINDING_FIELD_NO_VALUE = 'column {column}: "{path}" is a {kind}, not a question with a value'
BINDING_MAPPED_TWICE = "column {column} is both mapped to a field and given as a constant; keep one"
BINDING_REQUIRED = "{target} needs {what}: map it to a form field or give it as a constant"
BINDING_TWO_REPEATS = "the mapping reads from two repeats ({first} and {second}); a submission can be split along one repeat only"
BINDING_NESTED_REPEAT = "column {column}: {path} is in a repeat inside a repeat, which cannot be mapped"
BINDING_CONSTANT_TYPE = "constant {key}: give a text or a number, not {kind}"
BINDING_NOT_A_MAPPING = "the {what} must be an object of {{column: value}}"

_INDICATOR = re.compile(r"^[a-z_]+\.[a-z0-9_]+$")


@dataclass(frozen=True)
class TargetSpec:
    """What a binding target needs: its importer kind, its columns, and its profile keys."""

    target: str
    kind: str  # core.imports kind
    label: str
    profile_keys: tuple[str, ...]  # constants that go into the job profile, not into a column
    required: tuple[tuple[str, ...], ...]  # each: one of these columns (or profile keys) is needed
    # Columns whose values identify the domain row a submission writes: two submissions with the
    # same values never share a batch job (see processing).
    identity: tuple[str, ...]
    # Flows targets: a row with no record_id gets the submission's own (flows.forms.record_id_for).
    auto_record_id: bool = False

    def columns(self, operation: Operation) -> list[str]:
        """The target's columns, in the order its file template has them."""
        if self.target == Binding.Target.REGISTRATION:
            from mobility.registration.forms_binding import target_columns as registration_columns

            return registration_columns()
        if self.target in (Binding.Target.FLOW_COUNTS, Binding.Target.FLOW_SURVEYS):
            from mobility.flows.forms import target_columns

            return target_columns(self.target)
        if self.target == Binding.Target.BASELINE:
            from mobility.core.sadd import AgeBands
            from mobility.tracking.importers.template import template_columns

            bands = AgeBands.parse(operation.age_bands) if operation.age_bands else AgeBands.default()
            return template_columns(bands)
        if self.target == Binding.Target.SITE:
            from mobility.tracking.importers.sites import EXPECTED_COLUMNS, INDICATORS, template_header

            head = template_header()
            indicators = [f"{s}.{i}" for s, i in INDICATORS]
            return head + sorted(EXPECTED_COLUMNS - set(head)) + [c for c in indicators if c not in head]
        from mobility.tracking.importers.events import EXPECTED_COLUMNS, template_header

        head = template_header()
        return head + sorted(EXPECTED_COLUMNS - set(head))

    def accepts(self, column: str, operation: Operation) -> bool:
        if self.target in (Binding.Target.FLOW_COUNTS, Binding.Target.FLOW_SURVEYS):
            from mobility.flows.forms import target_accepts

            return target_accepts(self.target, column)
        if column in self.columns(operation):
            return True
        # Site assessments take any "<sector>.<indicator>" column (the importer checks the sector).
        return self.target == Binding.Target.SITE and bool(_INDICATOR.match(column))


TARGETS: dict[str, TargetSpec] = {
    Binding.Target.BASELINE: TargetSpec(
        target=Binding.Target.BASELINE,
        kind="tracking.template",
        label="baseline assessment (tracking template)",
        profile_keys=("round",),
        required=(
            ("round",),
            ("population_group",),
            ("individuals",),
            (
                "admin1_code",
                "admin1_name",
                "admin2_code",
                "admin2_name",
                "admin3_code",
                "admin3_name",
                "site_code",
            ),
        ),
        identity=(
            "assessment_type",
            "site_code",
            "admin3_code",
            "admin3_name",
            "admin2_code",
            "admin2_name",
            "admin1_code",
            "admin1_name",
        ),
    ),
    Binding.Target.SITE: TargetSpec(
        target=Binding.Target.SITE,
        kind="tracking.site-assessment",
        label="site assessment",
        profile_keys=("round",),
        required=(("site_code",), ("site_name",), ("round", "reporting_round")),
        identity=("site_code",),
    ),
    Binding.Target.EVENT: TargetSpec(
        target=Binding.Target.EVENT,
        kind="tracking.events",
        label="emergency event tracking",
        profile_keys=(),
        required=(("event_code",), ("event_type",), ("event_date",), ("individuals",)),
        identity=("event_code",),
    ),
    Binding.Target.FLOW_COUNTS: TargetSpec(
        target=Binding.Target.FLOW_COUNTS,
        kind="flows.form-counts",
        label="flow counts",
        profile_keys=(),
        required=(("fmp_code",), ("date",), ("direction",), ("individuals",)),
        identity=("fmp_code", "record_id"),
        auto_record_id=True,
    ),
    Binding.Target.FLOW_SURVEYS: TargetSpec(
        target=Binding.Target.FLOW_SURVEYS,
        kind="flows.surveys",
        label="flow surveys",
        profile_keys=(),
        required=(("fmp_code",), ("date",)),
        identity=("fmp_code", "record_id"),
        auto_record_id=True,
    ),
    # One household per submission, one member per repeat entry (mobility.registration.forms_binding).
    Binding.Target.REGISTRATION: TargetSpec(
        target=Binding.Target.REGISTRATION,
        kind="registration.individuals",
        label="registration (households and members)",
        profile_keys=(),
        required=(("relationship",), ("sex",), ("given_name", "family_name")),
        identity=("household_id",),
    ),
}


def target_spec(target: str) -> TargetSpec:
    try:
        return TARGETS[target]
    except KeyError:
        raise ValidationError(
            BINDING_TARGET_UNKNOWN.format(target=target, allowed=", ".join(Binding.Target.values))
        ) from None


def fields_by_path(version: FormVersion) -> dict[str, dict]:
    return {f["path"]: f for f in version.fields}


def binding_repeat(binding: Binding, version: FormVersion) -> str:
    """The repeat whose entries make one row each ("" when the mapping reads no repeat)."""
    fields = fields_by_path(version)
    for path in binding.mapping.values():
        repeat = fields.get(path, {}).get("repeat", "")
        if repeat:
            return repeat
    return ""


def _resolve_path(column: str, path, fields: dict[str, dict], errors: list[str]) -> str | None:
    """The full field path for what was given: a full path, "/data/grp/q", or a question name alone."""
    if not isinstance(path, str) or not path.strip():
        errors.append(BINDING_FIELD_UNKNOWN.format(column=column, path=path))
        return None
    text = path.strip()
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    if text.startswith("/"):
        text = text.lstrip("/").split("/", 1)[-1]  # drop the instance root ("/data/")
    if text in fields:
        return text
    named = [p for p, f in fields.items() if f["name"] == text]
    if len(named) == 1:
        return named[0]
    if named:
        errors.append(BINDING_FIELD_AMBIGUOUS.format(column=column, path=text, paths=", ".join(named)))
    else:
        errors.append(BINDING_FIELD_UNKNOWN.format(column=column, path=text))
    return None


def binding_validate(
    *, form: Form, target: str, mapping: dict, constants: dict
) -> tuple[TargetSpec, dict, dict]:
    """(spec, mapping with full paths, constants) or ValidationError listing every problem."""
    spec = target_spec(target)
    version = form.current_version
    if version is None:
        raise ValidationError(BINDING_NO_VERSION.format(form_id=form.xml_form_id))
    for what, value in (("mapping", mapping), ("constants", constants)):
        if not isinstance(value, dict):
            raise ValidationError(BINDING_NOT_A_MAPPING.format(what=what))
    operation = form.operation
    fields = fields_by_path(version)
    errors: list[str] = []
    resolved: dict[str, str] = {}
    columns = spec.columns(operation)
    allowed = ", ".join(columns)
    for column, path in mapping.items():
        if not spec.accepts(column, operation):
            errors.append(BINDING_COLUMN_UNKNOWN.format(column=column, target=spec.target, allowed=allowed))
            continue
        full = _resolve_path(column, path, fields, errors)
        if full is None:
            continue
        kind = fields[full].get("type", "")
        if kind == "repeat":
            errors.append(BINDING_FIELD_NO_VALUE.format(column=column, path=full, kind=kind))
            continue
        repeat = fields[full].get("repeat", "")
        if repeat and fields.get(repeat, {}).get("repeat"):
            errors.append(BINDING_NESTED_REPEAT.format(column=column, path=full))
            continue
        resolved[column] = full
    repeats = sorted({fields[p]["repeat"] for p in resolved.values() if fields[p].get("repeat")})
    if len(repeats) > 1:
        errors.append(BINDING_TWO_REPEATS.format(first=repeats[0], second=repeats[1]))
    clean_constants: dict = {}
    for key, value in constants.items():
        if key not in spec.profile_keys and not spec.accepts(key, operation):
            errors.append(
                BINDING_COLUMN_UNKNOWN.format(
                    column=key, target=spec.target, allowed=", ".join([*spec.profile_keys, *columns])
                )
            )
            continue
        if key in mapping:
            errors.append(BINDING_MAPPED_TWICE.format(column=key))
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            errors.append(BINDING_CONSTANT_TYPE.format(key=key, kind=type(value).__name__))
            continue
        clean_constants[key] = value
    given = set(mapping) | set(constants)
    for options in spec.required:
        if not given & set(options):
            errors.append(BINDING_REQUIRED.format(target=spec.target, what=" or ".join(options)))
    if "round" in clean_constants and not errors:
        from mobility.tracking.profiles import round_for

        try:
            round_for(operation, clean_constants["round"])
        except (ValidationError, ValueError, TypeError) as exc:
            errors += exc.messages if isinstance(exc, ValidationError) else [str(exc)]
    if errors:
        raise ValidationError(errors)
    return spec, resolved, clean_constants


@transaction.atomic
def binding_save(
    *, form: Form, target: str, mapping: dict, constants: dict | None = None, by=None
) -> Binding:
    """Bind a form to a target; a changed mapping becomes a new version, the same one returns the current."""
    form = Form.objects.select_for_update().get(pk=form.pk)
    if target == Binding.Target.REGISTRATION:
        from mobility.registration.forms_binding import binding_check

        binding_check(form=form, by=by)
    _spec, resolved, clean_constants = binding_validate(
        form=form, target=target, mapping=mapping, constants=constants or {}
    )
    current = binding_current(form)
    if (
        current is not None
        and current.target == target
        and current.mapping == resolved
        and current.constants == clean_constants
    ):
        return current
    last = form.bindings.order_by("-version").values_list("version", flat=True).first() or 0
    form.bindings.filter(active=True).update(active=False)
    binding = Binding(
        form=form,
        version=last + 1,
        target=target,
        mapping=resolved,
        constants=clean_constants,
        active=True,
        created_by=by if getattr(by, "pk", None) else None,
    )
    binding.full_clean()
    binding.save()
    audit_record(
        action="collection.binding_save",
        obj=form,
        by=by,
        operation=form.operation,
        detail={
            "binding": binding.pk,
            "version": binding.version,
            "target": target,
            "columns": sorted(resolved),
        },
    )
    return binding


def binding_current(form: Form) -> Binding | None:
    """The binding new submissions of the form go through (None when the form is not bound)."""
    return form.bindings.filter(active=True).order_by("-version").first()
