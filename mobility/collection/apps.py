from django.apps import AppConfig


class CollectionConfig(AppConfig):
    name = "mobility.collection"
    label = "collection"
    verbose_name = "Mobility data collection"
