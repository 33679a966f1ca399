"""`mobility tracking_profiles list|load|show`: the saved column mappings for DTM workbooks."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError

from mobility.core.command import MobilityCommand
from mobility.tracking.models import SourceProfile
from mobility.tracking.profiles import builtin_profiles_load, profile_get

HELP = {
    "list": "List the source profiles (shipped and saved): name, country, type, label.",
    "load": "Store the profiles shipped with Mobility (again), updating changed ones.",
    "show": "Print one profile's mapping as JSON.",
}


class Command(MobilityCommand):
    help = "Source profiles: saved column mappings that import a country's DTM workbook round after round."
    example = (
        "mobility tracking_profiles load\n"
        "mobility tracking_profiles list\n"
        "mobility tracking_profiles show dtm-mali-baseline"
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        for name, text in HELP.items():
            p = sub.add_parser(name, help=text, description=text)
            if name == "show":
                p.add_argument("name", help="Profile name, e.g. dtm-mali-baseline")

    def handle(self, *args, subcommand, **options):
        if subcommand == "load":
            counts = builtin_profiles_load()
            self.stdout.write(
                f"built-in profiles: {counts['created']} created, {counts['updated']} updated, "
                f"{counts['unchanged']} unchanged"
            )
        elif subcommand == "list":
            if not SourceProfile.objects.filter(built_in=True).exists():
                builtin_profiles_load()
            self.stdout.write(f"{'name':<32} {'country':<8} {'type':<5} {'built-in':<9} label")
            for p in SourceProfile.objects.order_by("name"):
                self.stdout.write(
                    f"{p.name:<32} {p.country_iso3 or '-':<8} {p.assessment_type:<5} "
                    f"{'yes' if p.built_in else 'no':<9} {p.label}"
                )
        else:
            try:
                profile = profile_get(options["name"])
            except ValidationError as exc:
                self.fail("; ".join(exc.messages))
            self.stdout.write(json.dumps(profile.mapping, indent=2, ensure_ascii=False))
