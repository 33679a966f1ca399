"""`mobility rounds create|advance|correct|list`."""

import datetime as dt

from django.core.exceptions import ValidationError

from mobility.core import services
from mobility.core.command import MobilityCommand
from mobility.core.models import Operation, Round


def _operation(command, slug_or_name: str) -> Operation:
    operation = (
        Operation.objects.filter(slug=slug_or_name).first()
        or Operation.objects.filter(name=slug_or_name).first()
    )
    if operation is None:
        command.fail(f'No operation "{slug_or_name}"; see `mobility operations list`.')
    return operation


class Command(MobilityCommand):
    help = "Rounds: plan one, move it through planned → collecting → validating → published, or correct it."
    example = (
        "mobility rounds create --operation mozambique-cabo-delgado --number 1 --start 2026-01-01 --end 2026-01-31\n"
        "mobility rounds advance --operation mozambique-cabo-delgado --number 1 --to collecting"
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        for name in ("create", "advance", "correct", "list"):
            p = sub.add_parser(name)
            p.add_argument("--operation", required=True, help="Operation slug or name")
            if name != "list":
                p.add_argument("--number", type=int, required=True, help="Round number")
        sub.choices["create"].add_argument("--start", type=dt.date.fromisoformat, required=True)
        sub.choices["create"].add_argument("--end", type=dt.date.fromisoformat, required=True)
        sub.choices["create"].add_argument("--name", default="")
        sub.choices["advance"].add_argument("--to", required=True, choices=Round.Status.values)
        sub.choices["correct"].add_argument("--reason", required=True)

    def handle(self, *args, subcommand, **options):
        operation = _operation(self, options["operation"])
        try:
            if subcommand == "create":
                r = services.round_create(
                    operation=operation,
                    number=options["number"],
                    start_date=options["start"],
                    end_date=options["end"],
                    name=options["name"],
                )
                self.stdout.write(f"planned round {r.number} of {operation.slug}")
            elif subcommand in ("advance", "correct"):
                r = (
                    Round.objects.filter(operation=operation, number=options["number"])
                    .order_by("-version")
                    .first()
                )
                if r is None:
                    self.fail(f"{operation.slug} has no round {options['number']}.")
                if subcommand == "advance":
                    r = services.round_advance_request(round=r, to=options["to"])
                    self.stdout.write(f"round {r.number} v{r.version} is now {r.status}")
                else:
                    r = services.round_correct(round=r, reason=options["reason"])
                    self.stdout.write(f"opened correction v{r.version} of round {r.number} ({r.status})")
            else:
                self.stdout.write(f"{'round':<6} {'version':<8} {'status':<11} period")
                for r in Round.objects.filter(operation=operation).order_by("number", "version"):
                    self.stdout.write(
                        f"{r.number:<6} {r.version:<8} {r.status:<11} {r.start_date} – {r.end_date}"
                    )
        except ValidationError as exc:
            self.fail("; ".join(exc.messages))
