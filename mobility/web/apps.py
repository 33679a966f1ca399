from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "mobility.web"
    label = "web"
    verbose_name = "Web"
