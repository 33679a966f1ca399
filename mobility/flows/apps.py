from django.apps import AppConfig


class FlowsConfig(AppConfig):
    name = "mobility.flows"
    label = "flows"
    verbose_name = "Mobility flow monitoring"

    def ready(self):
        from . import importers  # noqa: F401  (registers the flow importers)
