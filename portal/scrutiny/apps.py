from django.apps import AppConfig


class ScrutinyConfig(AppConfig):
    name = "portal.scrutiny"
    label = "scrutiny"
    verbose_name = "Scrutiny tools"
