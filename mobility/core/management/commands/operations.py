"""`mobility operations create|list`."""

from django.core.exceptions import ValidationError

from mobility.core import services
from mobility.core.command import MobilityCommand
from mobility.core.models import Operation


class Command(MobilityCommand):
    help = "Operations: create one (a country response) or list them."
    example = 'mobility operations create "Mozambique — Cabo Delgado" --country MOZ\nmobility operations list'

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        create = sub.add_parser("create", help="Create an operation")
        create.add_argument("name", help='Operation name, e.g. "Mozambique — Cabo Delgado"')
        create.add_argument("--country", required=True, help="ISO3 code of the country, e.g. MOZ")
        create.add_argument("--description", default="")
        sub.add_parser("list", help="List operations with their rounds")

    def handle(self, *args, subcommand, **options):
        if subcommand == "create":
            try:
                operation = services.operation_create(
                    name=options["name"], country_iso3=options["country"], description=options["description"]
                )
            except ValidationError as exc:
                self.fail("; ".join(exc.messages))
            self.stdout.write(f"created operation {operation.slug} ({operation.country_iso3})")
            return
        self.stdout.write(f"{'slug':<40} {'country':<8} {'status':<9} rounds")
        for operation in Operation.objects.order_by("name"):
            rounds = operation.rounds.count()
            self.stdout.write(
                f"{operation.slug:<40} {operation.country_iso3:<8} {operation.status:<9} {rounds}"
            )
