"""`mobility tokens create|revoke|list`: API tokens for scripts."""

from django.contrib.auth import get_user_model

from mobility.core import services
from mobility.core.command import MobilityCommand
from mobility.core.models import ApiToken


class Command(MobilityCommand):
    help = "API tokens: create one for a user (shown once), revoke or list them."
    example = (
        'mobility tokens create amina --name "weekly export script"\nmobility tokens revoke mob_AbCdEfGh'
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        create = sub.add_parser("create")
        create.add_argument("username")
        create.add_argument("--name", required=True)
        revoke = sub.add_parser("revoke")
        revoke.add_argument("prefix", help="The token's first 12 characters, as `tokens list` shows them")
        sub.add_parser("list")

    def handle(self, *args, subcommand, **options):
        if subcommand == "create":
            user = get_user_model().objects.filter(username=options["username"]).first()
            if user is None:
                self.fail(f"No user {options['username']}.")
            _, key = services.api_token_create(user=user, name=options["name"])
            self.stdout.write(f"{key}\n(shown once; send it as `Authorization: Bearer {key[:12]}…`)")
        elif subcommand == "revoke":
            token = ApiToken.objects.filter(prefix=options["prefix"], revoked_at__isnull=True).first()
            if token is None:
                self.fail(f"No active token starting {options['prefix']}.")
            services.api_token_revoke(token=token)
            self.stdout.write(f"revoked {token.prefix}…")
        else:
            for t in ApiToken.objects.select_related("user").order_by("-created_at"):
                state = "revoked" if t.revoked_at else "active"
                self.stdout.write(f"{t.prefix:<14} {t.user.username:<20} {state:<8} {t.name}")
