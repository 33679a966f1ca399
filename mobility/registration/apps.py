from django.apps import AppConfig


class RegistrationConfig(AppConfig):
    name = "mobility.registration"
    label = "registration"
    verbose_name = "Mobility registration"

    def ready(self):
        from . import importers  # noqa: F401  (registers the registration importers)
