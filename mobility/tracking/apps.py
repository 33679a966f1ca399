from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "mobility.tracking"
    label = "tracking"
    verbose_name = "Mobility tracking"

    def ready(self):
        from . import importers  # noqa: F401  (registers the tracking importers)
