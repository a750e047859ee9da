from django.apps import AppConfig


class RosterConfig(AppConfig):
    name = "portal.roster"
    label = "roster"
    verbose_name = "Steward roster"
