"""Importer ``restrictions.wfp``: WFP's COVID-19 travel restrictions by country, through data/profiles/wfp.json.

One row is one territory's entry requirements as WFP last published them: it becomes one
restriction imposed by that country on every traveller (target "all"), of kind "medical" when
quarantine, testing or vaccination is required (read from WFP's texts by the profile's rules), else
"partial". The cells hold HTML: it is reduced to plain text (links kept apart) before it is stored.
Rows whose ``iso3`` is not one country ("SDN, SSD" for Abyei, "xUK" for Akrotiri) and rows with no
information are skipped with a warning that names them. Each file is a snapshot: importing a later
one closes the earlier snapshot of a territory the day before the new one starts.

WFP data: CC BY (WFP - World Food Programme & external sources).
"""

from __future__ import annotations

import re
from collections import defaultdict

from django.utils.translation import gettext_lazy as _

from mobility.core.imports import Counts, ImportFailed, ReadResult, RowError, job_path, register
from mobility.core.tables import read_table
from mobility.gazetteer.services.versions import countries

from ..models import Measure
from ..services import travel_write
from .common import CellError, columns_require, date_parse, headline, html_to_text, profile_load, sentences
from .points import operation_for

KIND = "restrictions.wfp"

WARN_SEVERAL = _("{count} row(s) name several countries in iso3 (a shared or disputed area); skipped: {rows}")
WARN_NOT_ISO = _("{count} row(s) have an iso3 that is not an ISO 3166 country code; skipped: {rows}")
WARN_NOT_COUNTRY = _("{count} row(s) are not a country; skipped: {rows}")
WARN_EMPTY = _("{count} row(s) have no information (no published date); skipped: {rows}")
MEASURE_UNKNOWN = _('The profile\'s measure "{measure}" is not one of {allowed}.')


def _names(items: list[str], limit: int = 25) -> str:
    return "; ".join(items[:limit]) + (f" … (+{len(items) - limit})" if len(items) > limit else "")


def _measures(profile: dict, texts: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The measures the profile's rules find in the texts, and the sentence that showed each."""
    found, evidence = set(), {}
    for rule in profile.get("measures", []):
        measure = rule["measure"]
        none = [re.compile(p, re.IGNORECASE) for p in rule.get("none", [])]
        any_ = [re.compile(p, re.IGNORECASE) for p in rule.get("any", [])]
        for column in rule.get("columns", []):
            text = texts.get(column, "")
            candidates = [headline(text)] if rule.get("mode", "headline") == "headline" else sentences(text)
            for sentence in candidates:
                if not sentence or any(p.search(sentence) for p in none):
                    continue
                if any(p.search(sentence) for p in any_):
                    found.add(measure)
                    evidence.setdefault(measure, sentence[:300])
                    break
            if measure in found:
                break
    return [m for m in Measure.values if m in found], evidence


class WfpImporter:
    kind = KIND
    label = "Restrictions: WFP COVID-19 travel restrictions by country (through its source profile)"
    profile_name = "wfp"

    def read(self, *, job, progress) -> ReadResult:
        operation = operation_for(job)
        profile = profile_load(self.profile_name, (job.profile or {}).get("source_profile"))
        cols = profile["columns"]
        for rule in profile.get("measures", []):
            if rule.get("measure") not in Measure.values:
                raise ImportFailed(
                    str(
                        MEASURE_UNKNOWN.format(measure=rule.get("measure"), allowed=", ".join(Measure.values))
                    )
                )
        table = read_table(job_path(job), expected=list(cols.values()))
        columns_require(table.columns, list(cols.values()))
        formats = profile.get("date_formats", {})
        published_format = formats.get("published", "%d.%m.%Y")
        updated_format = formats.get("updated", "%Y%m%d")
        aliases = {k.upper(): v.upper() for k, v in profile.get("iso3_aliases", {}).items()}
        not_countries = {k.upper(): v for k, v in profile.get("not_countries", {}).items()}
        max_chars = int(profile.get("max_text_chars", 20_000))
        known = countries()

        progress.start(table.total_rows, "reading WFP rows")
        errors: list[RowError] = []
        rows: list[dict] = []
        skipped: dict[str, list[str]] = defaultdict(list)
        rows_read = 0
        for number, raw in table.rows:
            rows_read += 1
            progress.advance()
            territory = " ".join(raw.get(cols["territory"], "").split())[:100]
            code = raw.get(cols["iso3"], "").strip()
            label = f'row {number} {territory or "?"} ("{code}")'
            if "," in code or ";" in code:
                skipped["several"].append(label)
                continue
            code = aliases.get(code.upper(), code.upper())
            if code in not_countries:
                skipped["not_country"].append(f"{label}: {not_countries[code]}")
                continue
            if code not in known:
                skipped["not_iso"].append(label)
                continue
            published = raw.get(cols["published"], "").strip()
            updated = raw.get(cols["updated"], "").strip()
            if not published and not updated:
                skipped["empty"].append(f"{territory} ({code})")
                continue
            row_errors = []
            start = info_date = None
            for field, text, fmt, form in (
                ("published", published, published_format, "DD.MM.YYYY"),
                ("updated", updated, updated_format, "YYYYMMDD"),
            ):
                if not text:
                    continue
                try:
                    value = date_parse(text, (fmt,), form)
                except CellError as exc:
                    row_errors.append(RowError(number, cols[field], str(exc), text[:200]))
                    continue
                if field == "published":
                    start = value
                else:
                    info_date = value
            if row_errors:
                errors.extend(row_errors)
                continue
            start = start or info_date
            texts, links = {}, []
            for field in ("info", "quarantine", "testing", "exceptions"):
                texts[field], found_links = html_to_text(raw.get(cols[field], ""), max_chars=max_chars)
                links.extend(link for link in found_links if link not in links)
            _text, sources = html_to_text(raw.get(cols["sources"], ""), max_chars=2000)
            measures, evidence = _measures(profile, texts)
            kind = profile["kind_with_measures"] if measures else profile["kind_without_measures"]
            rows.append(
                {
                    "imposing_iso3": code,
                    "target": "all",
                    "target_iso3": "",
                    "target_region": "",
                    "kind": kind,
                    "effective_from": start,
                    "effective_to": None,
                    "details": {
                        "territory": territory,
                        "info_date": info_date.isoformat() if info_date else None,
                        "measures": measures,
                        "measure_evidence": evidence,
                        "quarantine": texts["quarantine"],
                        "testing": texts["testing"],
                        "exceptions": texts["exceptions"],
                        "sources": sources,
                        "links": links[:20],
                    },
                    "notes": texts["info"],
                    "source_ref": f"{territory} {start.isoformat()}"[-100:],
                    "source_url": (sources[0]["url"] if sources else profile.get("source_url", ""))[:500],
                }
            )
        progress.finish()
        warnings = []
        for key, message in (
            ("several", WARN_SEVERAL),
            ("not_iso", WARN_NOT_ISO),
            ("not_country", WARN_NOT_COUNTRY),
            ("empty", WARN_EMPTY),
        ):
            if skipped[key]:
                warnings.append(str(message.format(count=len(skipped[key]), rows=_names(skipped[key]))))
        summary = {
            "rows_read": rows_read,
            "restrictions": len(rows),
            "skipped_several_countries": len(skipped["several"]),
            "skipped_not_iso3": len(skipped["not_iso"]),
            "skipped_not_country": len(skipped["not_country"]),
            "skipped_empty": len(skipped["empty"]),
            "with_measures": sum(1 for r in rows if r["details"]["measures"]),
        }
        return ReadResult(
            data={"operation": operation, "rows": rows, "summary": summary},
            rows_read=rows_read,
            errors=errors,
            warnings=warnings,
        )

    def write(self, *, job, data, progress) -> Counts:
        counts = travel_write(
            operation=data["operation"],
            source="wfp",
            rows=data["rows"],
            job=job,
            progress=progress,
            chain_by="territory",
        )
        counts.summary.update(data["summary"])
        return counts


register(WfpImporter())
