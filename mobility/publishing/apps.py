from django.apps import AppConfig


class PublishingConfig(AppConfig):
    name = "mobility.publishing"
    label = "publishing"
    verbose_name = "Publishing"
