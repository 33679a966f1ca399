"""`mobility users create|role|list`."""

import sys

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from mobility.core import services
from mobility.core.command import MobilityCommand
from mobility.core.models import Membership, Operation, Role


class Command(MobilityCommand):
    help = "Users: create one (password from standard input), give a role in an operation, list them."
    example = (
        "echo 'a-long-passphrase' | mobility users create amina --operation mozambique-cabo-delgado "
        "--role data_manager --password-stdin\n"
        "mobility users role amina --operation pakistan-floods --role viewer"
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        create = sub.add_parser("create")
        create.add_argument("username")
        create.add_argument("--email", default="")
        create.add_argument(
            "--password-stdin", action="store_true", help="Read the password from standard input"
        )
        create.add_argument("--superuser", action="store_true")
        for p in (create, sub.add_parser("role")):
            if p is not create:
                p.add_argument("username")
            p.add_argument("--operation", help="Operation slug or name", required=p is not create)
            p.add_argument("--role", choices=Role.values, required=p is not create)
        sub.add_parser("list")

    def handle(self, *args, subcommand, **options):
        User = get_user_model()
        try:
            if subcommand == "create":
                if not options["password_stdin"]:
                    self.fail(
                        "Give the password on standard input with --password-stdin (never as an argument)."
                    )
                password = sys.stdin.readline().rstrip("\n")
                user = services.user_create(
                    username=options["username"],
                    password=password,
                    email=options["email"],
                    is_superuser=options["superuser"],
                )
                self.stdout.write(f"created user {user.username}")
                if options.get("operation") and options.get("role"):
                    self._role(user, options)
            elif subcommand == "role":
                user = User.objects.filter(username=options["username"]).first()
                if user is None:
                    self.fail(f"No user {options['username']}.")
                self._role(user, options)
            else:
                for m in Membership.objects.select_related("user", "operation").order_by("user__username"):
                    self.stdout.write(f"{m.user.username:<20} {m.operation.slug:<40} {m.role}")
        except ValidationError as exc:
            self.fail("; ".join(exc.messages))

    def _role(self, user, options):
        ref = options["operation"]
        operation = Operation.objects.filter(slug=ref).first() or Operation.objects.filter(name=ref).first()
        if operation is None:
            self.fail(f'No operation "{ref}".')
        services.membership_set(user=user, operation=operation, role=options["role"])
        self.stdout.write(f"{user.username} is {options['role']} in {operation.slug}")
