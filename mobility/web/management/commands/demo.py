"""`mobility demo`: load the demo (MOZ and PAK gazetteers, two operations, an admin user). Safe to re-run."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from mobility.core import imports, services
from mobility.core.command import MobilityCommand, RichProgress
from mobility.core.models import Operation, Round

DATA = Path(__file__).resolve().parents[3] / "gazetteer" / "data"
TRACKING_DATA = Path(__file__).resolve().parents[3] / "tracking" / "data"

GAZETTEERS = [
    # (kind, file, profile)
    (
        "gazetteer.cod",
        "moz_adm0-3_pcodes_ocha_2019.csv",
        {
            "country": "MOZ",
            "edition": "OCHA COD 2019",
            "valid_from": "2019-07-01",
            "source": "OCHA ROSEA / INE (HDX cod-ab-moz)",
        },
    ),
    (
        "gazetteer.cod",
        "pak_adm0-3_pcodes_ocha.csv",
        {
            "country": "PAK",
            "edition": "OCHA COD",
            "valid_from": "2022-01-01",
            "source": "OCHA Pakistan (HDX cod-ab-pak)",
        },
    ),
    ("gazetteer.geojson", "pak_provinces_simplified.geojson", {"country": "PAK"}),
    ("gazetteer.geojson", "pak_districts_simplified.geojson", {"country": "PAK"}),
    ("gazetteer.geojson", "pak_tehsils_simplified.geojson", {"country": "PAK"}),
    (
        "gazetteer.geojson",
        "moz_adm2_geoboundaries_simplified.geojson",
        {"country": "MOZ", "dissolve_up": True},
    ),
    ("gazetteer.locations", "demo_locations_pak.csv", {"country": "PAK"}),
    ("gazetteer.locations", "demo_locations_moz.csv", {"country": "MOZ"}),
]

OPERATIONS = [
    {
        "name": "Mozambique — Cabo Delgado",
        "country_iso3": "MOZ",
        "description": "Mobility tracking of people displaced by conflict in Cabo Delgado and neighbouring provinces.",
        "rounds": [
            (1, "2026-01-01", "2026-01-31", Round.Status.COLLECTING),
            (2, "2026-03-01", "2026-03-31", Round.Status.COLLECTING),
        ],
    },
    {
        "name": "Pakistan — Floods response",
        "country_iso3": "PAK",
        "description": "Displacement and return after the monsoon floods in Sindh and Balochistan.",
        "rounds": [(1, "2026-09-01", "2026-09-30", Round.Status.VALIDATING)],
    },
]

PATH_TO = {
    Round.Status.PLANNED: [],
    Round.Status.COLLECTING: [Round.Status.COLLECTING],
    Round.Status.VALIDATING: [Round.Status.COLLECTING, Round.Status.VALIDATING],
    Round.Status.PUBLISHED: [Round.Status.COLLECTING, Round.Status.VALIDATING, Round.Status.PUBLISHED],
}


OPERATION_SLUG = "mozambique-cabo-delgado"


class Command(MobilityCommand):
    help = "Load the demo: MOZ and PAK gazetteers with boundaries, two operations with rounds, an admin user."
    example = "mobility demo"

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="No progress bars")

    def handle(self, *args, quiet=False, **options):
        User = get_user_model()
        admin = User.objects.filter(username="admin").first()
        password = None
        if admin is None:
            password = secrets.token_urlsafe(12)
            admin = services.user_create(username="admin", password=password, is_superuser=True)
        for kind, name, profile in GAZETTEERS:
            path = DATA / name
            if kind not in imports.registered_kinds() or not path.exists():
                self.stdout.write(f"  skipped {name} (no importer {kind} or file missing)")
                continue
            job = imports.job_create(kind=kind, source=path, profile=profile, by=admin)
            job = imports.run(job, progress=None if quiet else RichProgress())
            if job.status != job.Status.SUCCEEDED:
                self.fail(f"demo import of {name} failed: {job.error}")
            self.stdout.write(
                f"  {name}: {job.created} created, {job.updated} updated, {job.unchanged} unchanged"
            )
        self._operations(admin)
        self._tracking(admin, quiet)
        self._review_items()
        enumerator_password = self._collection(admin)
        self._flows(admin)
        self._restrictions()
        self._registration(admin)
        self.stdout.write(self.style.SUCCESS("Demo loaded."))
        if enumerator_password:
            self.stdout.write(
                self.style.WARNING(
                    f"\n  ODK Collect: server  http://127.0.0.1:8000/collect/{OPERATION_SLUG}  "
                    f"user  enumerator  password  {enumerator_password}\n"
                )
            )
        if password:
            self.stdout.write(
                self.style.WARNING(
                    f"\n  Log in as  admin  with password  {password}\n"
                    "  (shown this once; change it with `mobility changepassword admin`)\n"
                )
            )
        else:
            self.stdout.write(
                "  The admin user exists already; reset its password with `mobility changepassword admin`."
            )

    @transaction.atomic
    def _operations(self, admin):
        for spec in OPERATIONS:
            operation = Operation.objects.filter(name=spec["name"]).first() or services.operation_create(
                name=spec["name"],
                country_iso3=spec["country_iso3"],
                description=spec["description"],
                by=admin,
            )
            for number, start, end, status in spec["rounds"]:
                if Round.objects.filter(operation=operation, number=number).exists():
                    continue
                round_ = services.round_create(
                    operation=operation,
                    number=number,
                    start_date=dt.date.fromisoformat(start),
                    end_date=dt.date.fromisoformat(end),
                    by=admin,
                )
                for state in PATH_TO[status]:
                    services.round_advance(round=round_, to=state, by=admin)

    def _tracking(self, admin, quiet):
        """Two invented, real-shaped rounds for MOZ (round 1 published through the disclosure check), ETT and sites."""
        from mobility.publishing.services import release_publish
        from mobility.tracking.events import alert_rule_create
        from mobility.tracking.models import AlertRule

        operation = Operation.objects.get(name=OPERATIONS[0]["name"])
        steps = [
            ("tracking.template", "demo_moz_round1.csv", {"round": 1}),
            ("tracking.template", "demo_moz_round2.csv", {"round": 2}),
            ("tracking.site-assessment", "demo_moz_sites.csv", {}),
        ]
        if not AlertRule.objects.filter(operation=operation).exists():
            alert_rule_create(operation=operation, min_individuals=1000, subscribers=[admin], by=admin)
        steps.append(("tracking.events", "demo_moz_ett.csv", {}))
        for kind, name, extra in steps:
            job = imports.job_create(
                kind=kind, source=TRACKING_DATA / name, profile={"operation": operation.pk, **extra}, by=admin
            )
            job = imports.run(job, progress=None if quiet else RichProgress())
            if job.status != job.Status.SUCCEEDED:
                self.fail(f"demo import of {name} failed: {job.error}")
            self.stdout.write(
                f"  {name}: {job.created} created, {job.updated} updated, {job.unchanged} unchanged"
            )
        round1 = Round.objects.get(operation=operation, number=1, version=1)
        if round1.status == Round.Status.COLLECTING:
            services.round_advance(round=round1, to=Round.Status.VALIDATING, by=admin)
        if round1.status == Round.Status.VALIDATING:
            release = release_publish(round=round1, by=admin, source_note="Invented demo figures")
            self.stdout.write(f"  published {release} after the disclosure check")

    def _collection(self, admin) -> str | None:
        """The ready-made ETT form, the `enumerator` app user and a few invented phone submissions."""
        from mobility.collection.demo import collection_demo

        operation = Operation.objects.get(name=OPERATIONS[0]["name"])
        form_id, password, stored = collection_demo(operation=operation, admin=admin)
        self.stdout.write(f"  form {form_id}: {stored} demo submission(s) stored")
        return password

    def _flows(self, admin):
        """The MOZ–TZA corridor with four FMPs and 90 days of counts; estimates; January and February published."""
        from mobility.flows.demo import START, flows_demo
        from mobility.flows.estimates import estimates_compute
        from mobility.flows.publishing import flows_publish

        operation = Operation.objects.get(name=OPERATIONS[0]["name"])
        stored = flows_demo(operation)
        written = sum(estimates_compute(operation=operation, period=p) for p in ("week", "month"))
        publication = flows_publish(
            operation=operation,
            date_from=START,
            date_to=dt.date(START.year, 2, 28),
            by=admin,
            note="Invented demo flows",
        )
        self.stdout.write(
            f"  flows: {stored['counts']} counts ({stored['counts_created']} new), {stored['surveys']} surveys, "
            f"{written} estimates; published {publication.date_from}–{publication.date_to}"
        )

    def _restrictions(self):
        """Six points of entry with a status history (one correction) and a few travel restrictions."""
        from mobility.restrictions.demo import restrictions_demo

        operation = Operation.objects.get(name=OPERATIONS[0]["name"])
        stored = restrictions_demo(operation)
        self.stdout.write("  restrictions: " + ", ".join(f"{v} {k}" for k, v in stored.items()))

    def _registration(self, admin):
        """About 300 invented households (a few registered twice), the item catalogue, and the
        admin's registration grant; then the duplicate search, so the review queue has pairs."""
        from mobility.registration.access import grant_set
        from mobility.registration.dedup_app import dedup_run
        from mobility.registration.demo import registration_demo
        from mobility.registration.models import Capability

        operation = Operation.objects.get(name=OPERATIONS[0]["name"])
        grant_set(operation=operation, user=admin, capabilities=[c.value for c in Capability], by=admin)
        stored = registration_demo(operation, by=admin)
        summary = dedup_run(operation=operation, by=admin)
        self.stdout.write("  registration: " + ", ".join(f"{v} {k}" for k, v in stored.items()))
        self.stdout.write(
            f"  duplicates: {summary.pairs_found} pairs found, {summary.auto} matched automatically, "
            f"{summary.pending} waiting for review"
        )

    def _review_items(self):
        """Names as field teams write them, so the review list has something to resolve in the tour."""
        try:
            from mobility.gazetteer.services import match_names
        except ImportError:
            return
        names = ["Muzafarabad", "Dadu Tehsil", "Jhal Magsi", "Mirpurkhas", "Killa Abdullah", "Karachi East"]
        match_names(country_iso3="PAK", level=2, names=names)
        match_names(
            country_iso3="MOZ", level=2, names=["Pemba Cidade", "Mocimboa", "Cidade de Nampula", "Ilha"]
        )
