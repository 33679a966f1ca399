from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "mobility.core"
    label = "core"
    verbose_name = "Mobility core"
