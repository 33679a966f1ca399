"""Importer ``restrictions.cobap``: the COBAP policy list through its source profile (data/profiles/cobap.json).

One COBAP policy (a row, ``ID`` e.g. "CY36") becomes one ``TravelRestriction`` per country it is
imposed on: the countries named in its target lists (``TARGETS_AIR``, ``CITIZEN_LIST``,
``HISTORY_BAN_LIST``…), matched to ISO3 by ``CountryMatcher``; a policy with no list, or a
complete closure, targets every country. Names that match nothing are reported in the job's
warnings with their counts, never dropped silently; a policy none of whose names matched is
skipped (and reported) rather than widened to "every country".

The COBAP data are GPL-3.0: Mobility reads the file a user gives it and ships none of it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from django.utils.translation import gettext_lazy as _

from mobility.core.imports import Counts, ReadResult, RowError, job_path, register
from mobility.core.tables import read_table
from mobility.gazetteer.services.versions import countries

from ..countries import CountryMatcher, ListMatch, Match, split_names
from ..models import Measure, TravelRestriction
from ..services import travel_write
from .common import CellError, columns_require, date_parse, profile_load, url_clean
from .points import operation_for

KIND = "restrictions.cobap"
SHOWN_UNMATCHED = 30

ID_TWICE = _("policy {id} is already on row {first}")
ISO3_UNKNOWN = _("is not an ISO3 country code")
TYPE_UNKNOWN = _("is not a policy type the profile knows ({known})")
SUBTYPE_UNKNOWN = _("is not a policy subtype the profile maps for {type} ({known})")
WARN_UNMATCHED = _('country name not matched: "{name}" ({count} time(s), e.g. policy {example})')
WARN_UNMATCHED_MORE = _("… and {names} more unmatched name(s) ({count} mention(s)); see the job summary")
WARN_NO_POLICY = _("{count} row(s) record no policy ({types}); skipped: {ids}")
WARN_NOT_COUNTRY = _("{count} policy(ies) imposed by {code}, {what}, are not a country's; skipped: {ids}")
WARN_ENDS_BEFORE = _("{count} policy(ies) end before they start; skipped: {ids}")
WARN_NO_TARGET = _("{count} policy(ies) name only countries that matched nothing; skipped: {ids}")


def _ids(ids: list[str], limit: int = 20) -> str:
    return ", ".join(ids[:limit]) + (f" … (+{len(ids) - limit})" if len(ids) > limit else "")


def _kind(profile: dict, policy_type: str, subtype: str) -> str:
    mapping = profile["kind"]
    if policy_type not in mapping:
        raise CellError(str(TYPE_UNKNOWN.format(known=", ".join(mapping))))
    kind = mapping[policy_type]
    if isinstance(kind, dict):
        kind = kind.get(subtype, kind.get("*"))
        if kind is None:
            raise CellError(
                str(SUBTYPE_UNKNOWN.format(type=policy_type, known=", ".join(mapping[policy_type])))
            )
    if kind not in TravelRestriction.Kind.values:
        raise CellError(str(TYPE_UNKNOWN.format(known=", ".join(mapping))))
    return kind


class CobapImporter:
    kind = KIND
    label = "Restrictions: COBAP travel policy list (through its source profile)"
    profile_name = "cobap"

    def read(self, *, job, progress) -> ReadResult:
        operation = operation_for(job)
        profile = profile_load(self.profile_name, (job.profile or {}).get("source_profile"))
        cols = profile["columns"]
        lists: dict[str, str] = profile.get("target_lists", {})
        table = read_table(job_path(job), expected=list(cols.values()))
        columns_require(table.columns, [*cols.values(), *lists])
        matcher = CountryMatcher(profile.get("country_aliases"))
        special = {k.upper(): v for k, v in profile.get("special_targets", {}).items()}
        empty = {v.upper() for v in profile.get("empty_list", ["NA", ""])}
        open_ended = {v.upper() for v in profile.get("open_ended", ["NONE", "NA", ""])}
        true_values = {v.upper() for v in profile.get("true_values", ["1"])}
        date_format = profile.get("date_format", "%m_%d_%y")
        form = date_format.replace("%m", "MM").replace("%d", "DD").replace("%y", "YY").replace("%Y", "YYYY")
        known_countries = countries()
        not_countries = {k.upper(): v for k, v in profile.get("imposing_not_countries", {}).items()}
        not_country: dict[str, list[str]] = defaultdict(list)

        progress.start(table.total_rows, "reading COBAP policies")
        errors: list[RowError] = []
        rows: list[dict] = []
        first_row: dict[str, int] = {}
        unmatched: Counter[str] = Counter()
        unmatched_example: dict[str, str] = {}
        no_policy: list[str] = []
        ends_before: list[str] = []
        no_target: list[str] = []
        stats = Counter()
        rows_read = 0
        for number, raw in table.rows:
            rows_read += 1
            progress.advance()
            row_errors: list[RowError] = []

            def fail(field: str, message, value: str = "", _errors=row_errors, _number=number) -> None:
                _errors.append(RowError(_number, cols.get(field, field), str(message), (value or "")[:200]))

            policy_id = raw.get(cols["id"], "").strip()
            if not policy_id:
                fail("id", _("is empty; it is required"))
            elif policy_id in first_row:
                fail("id", ID_TWICE.format(id=policy_id, first=first_row[policy_id]), policy_id)
            else:
                first_row[policy_id] = number
            policy_type = raw.get(cols["policy_type"], "").strip().upper()
            subtype = raw.get(cols["policy_subtype"], "").strip().upper()
            if policy_type in set(profile.get("skip_policy_types", [])):
                no_policy.append(policy_id)
                errors.extend(row_errors)
                continue
            imposing = raw.get(cols["imposing_iso3"], "").strip().upper()
            if imposing in not_countries:
                not_country[imposing].append(policy_id)
                errors.extend(row_errors)
                continue
            if imposing not in known_countries:
                fail("imposing_iso3", ISO3_UNKNOWN, imposing)
            kind = None
            try:
                kind = _kind(profile, policy_type, subtype)
            except CellError as exc:
                fail("policy_type", exc, f"{policy_type} {subtype}".strip())
            start = end = None
            try:
                start = date_parse(raw.get(cols["start"], ""), (date_format,), form)
            except CellError as exc:
                fail("start", exc, raw.get(cols["start"], ""))
            end_text = raw.get(cols["end"], "").strip()
            if end_text.upper() not in open_ended:
                try:
                    end = date_parse(end_text, (date_format,), form)
                except CellError as exc:
                    fail("end", exc, end_text)
            if row_errors:
                errors.extend(row_errors)
                continue
            if end is not None and end < start:
                ends_before.append(policy_id)
                continue
            if end is not None and profile.get("end_date_is_lifted"):
                # COBAP's END_DATE is the day the policy was lifted: the day before is its last in force.
                end = max(start, end - dt.timedelta(days=1))

            measures: set[str] = set()
            targets: dict[tuple, list[str]] = {}  # target key → the lists that named it
            if policy_type in set(profile.get("all_targets_policy_types", [])):
                targets[("all", "", "")] = []
            else:
                had_list = False
                for column, label in lists.items():
                    text = raw.get(column, "").strip()
                    if text.upper() in empty:
                        continue
                    had_list = True
                    result = ListMatch()
                    rest = []
                    for item in split_names(text):
                        token = special.get(item.strip().upper())
                        if token is None:
                            rest.append(item)
                            continue
                        measures.update(token.get("measures", []))
                        if token.get("target") == "all":
                            result.add(Match())
                        elif token.get("target") == "region":
                            result.add(Match(region=token["region"]))
                    named = matcher.names(", ".join(rest)) if rest else ListMatch()
                    for match in [*result.matches, *named.matches]:
                        key = (
                            ("all", "", "")
                            if not (match.iso3 or match.region)
                            else (("country", match.iso3, "") if match.iso3 else ("region", "", match.region))
                        )
                        targets.setdefault(key, [])
                        if label not in targets[key]:
                            targets[key].append(label)
                    for name in named.unmatched:
                        unmatched[name] += 1
                        unmatched_example.setdefault(name, policy_id)
                    stats["names_matched"] += len(named.matches)
                    stats["names_unmatched"] += len(named.unmatched)
                if not had_list:
                    targets[("all", "", "")] = []
                elif not targets:
                    no_target.append(policy_id)
                    continue
            measures_list = [m for m in Measure.values if m in measures]
            exceptions = {}
            for column, label in profile.get("exception_columns", {}).items():
                value = raw.get(column, "").strip()
                if value and value.upper() not in empty and value != "0":
                    exceptions[label] = True if value.upper() in true_values else value[:2000]
            source_url = ""
            for column in profile.get("source_url_columns", []):
                source_url = url_clean(raw.get(column, ""))
                if source_url:
                    break
            base_details = {
                "policy_type": policy_type,
                "policy_subtype": subtype,
                "imposing_name": raw.get(cols.get("imposing_name", ""), "").strip(),
                "air": raw.get(cols["air"], "").strip().upper() in true_values,
                "land": raw.get(cols["land"], "").strip().upper() in true_values,
                "sea": raw.get(cols["sea"], "").strip().upper() in true_values,
                "measures": measures_list,
                "exceptions": exceptions,
                "quality": raw.get(cols.get("quality", ""), "").strip(),
            }
            notes = " ".join(raw.get(cols.get("comments", ""), "").split())[:2000]
            stats["policies"] += 1
            for (target, target_iso3, target_region), named_by in targets.items():
                stats[f"targets_{target}"] += 1
                rows.append(
                    {
                        "imposing_iso3": imposing,
                        "target": target,
                        "target_iso3": target_iso3,
                        "target_region": target_region[:100],
                        "kind": kind,
                        "effective_from": start,
                        "effective_to": end,
                        "details": {**base_details, "lists": named_by},
                        "notes": notes,
                        "source_ref": policy_id[:100],
                        "source_url": source_url or profile.get("source_url", ""),
                    }
                )
        progress.finish()

        warnings: list[str] = []
        if no_policy:
            types = ", ".join(profile.get("skip_policy_types", []))
            warnings.append(
                str(WARN_NO_POLICY.format(count=len(no_policy), types=types, ids=_ids(no_policy)))
            )
        for code, ids in not_country.items():
            warnings.append(
                str(
                    WARN_NOT_COUNTRY.format(
                        count=len(ids), code=code, what=not_countries[code], ids=_ids(ids)
                    )
                )
            )
        if ends_before:
            warnings.append(str(WARN_ENDS_BEFORE.format(count=len(ends_before), ids=_ids(ends_before))))
        if no_target:
            warnings.append(str(WARN_NO_TARGET.format(count=len(no_target), ids=_ids(no_target))))
        ranked = unmatched.most_common()
        for name, count in ranked[:SHOWN_UNMATCHED]:
            warnings.append(
                str(WARN_UNMATCHED.format(name=name[:120], count=count, example=unmatched_example[name]))
            )
        if len(ranked) > SHOWN_UNMATCHED:
            rest = ranked[SHOWN_UNMATCHED:]
            warnings.append(str(WARN_UNMATCHED_MORE.format(names=len(rest), count=sum(c for _, c in rest))))
        summary = {
            "policies_read": rows_read,
            "policies_imported": stats["policies"],
            "policies_no_policy": len(no_policy),
            "policies_not_a_country": sum(len(ids) for ids in not_country.values()),
            "policies_ending_before_start": len(ends_before),
            "policies_no_target_matched": len(no_target),
            "restrictions": len(rows),
            "targets_country": stats["targets_country"],
            "targets_region": stats["targets_region"],
            "targets_all": stats["targets_all"],
            "names_matched": stats["names_matched"],
            "names_unmatched": stats["names_unmatched"],
            "unmatched_names": dict(ranked[:500]),
        }
        return ReadResult(
            data={"operation": operation, "rows": rows, "summary": summary},
            rows_read=rows_read,
            errors=errors,
            warnings=warnings,
        )

    def write(self, *, job, data, progress) -> Counts:
        counts = travel_write(
            operation=data["operation"], source="cobap", rows=data["rows"], job=job, progress=progress
        )
        counts.summary.update(data["summary"])
        return counts


register(CobapImporter())
