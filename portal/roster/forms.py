"""Forms parse what people type into the shapes the services take. The rules live in services."""

import re

from django import forms
from django.utils import timezone

from portal.lib.keys import split_keys
from portal.projects.models import Ecosystem, Project
from portal.roster import services
from portal.roster.models import IdentityCheck

DATE = forms.DateInput(attrs={"type": "date"})


def _list(text: str, *, lines: bool = False) -> list[str]:
    parts = (text or "").splitlines() if lines else re.split(r"[,\n]", text or "")
    return [part.strip() for part in parts if part.strip()]


def time_zone_choices():
    return [("", "Choose…"), *((tz, tz) for tz in sorted(services.time_zone_names()))]


class ApplyForm(forms.Form):
    handle = forms.CharField(
        max_length=40,
        help_text="Your public handle on Steady and in handover notices: lower-case letters, digits, hyphens.",
    )
    forge_accounts = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=2000,
        label="Forge accounts",
        help_text="One per line: github:NAME, gitlab:NAME or codeberg:NAME.",
    )
    ecosystems = forms.MultipleChoiceField(
        choices=Ecosystem.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Ecosystems you can help with",
    )
    languages = forms.CharField(
        required=False,
        max_length=500,
        label="Languages you speak",
        help_text="Separated by commas.",
    )
    skills = forms.CharField(
        required=False,
        max_length=1000,
        help_text="Separated by commas, e.g. python, c, release engineering, code review.",
    )
    time_zone = forms.ChoiceField(choices=time_zone_choices, label="Time zone")
    hours_per_week = forms.IntegerField(
        min_value=1, max_value=services.MAX_HOURS_PER_WEEK, label="Hours per week"
    )
    max_assignments = forms.IntegerField(
        min_value=1,
        max_value=services.MAX_CONCURRENT,
        initial=1,
        label="Most projects at once",
    )
    statement = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=services.MAX_STATEMENT,
        help_text="Who you are, what you have maintained, and why you want to help.",
    )
    public_keys = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=64_000,
        label="Public signing keys",
        help_text=(
            "The keys you sign commits and releases with: SSH public key lines (one per line) "
            "and/or armoured OpenPGP public key blocks. Public keys only."
        ),
    )

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "handle": data["handle"],
            "forge_accounts": _list(data["forge_accounts"], lines=True),
            "ecosystems": data["ecosystems"],
            "languages": _list(data["languages"]),
            "skills": _list(data["skills"]),
            "time_zone": data["time_zone"],
            "hours_per_week": data["hours_per_week"],
            "max_assignments": data["max_assignments"],
            "statement": data["statement"],
            "public_keys": split_keys(data["public_keys"]),
        }


class KeyForm(forms.Form):
    public_key = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=64_000,
        label="Add a public key",
        help_text="One SSH public key line or one armoured OpenPGP public key block.",
    )


class InvolvementForm(forms.Form):
    ecosystem = forms.ChoiceField(choices=Ecosystem.choices)
    project_name = forms.CharField(max_length=120, label="Project")
    first_contributed_on = forms.DateField(
        required=False, widget=DATE, label="First contributed on"
    )
    first_offered_help_on = forms.DateField(
        required=False, widget=DATE, label="First offered to help on"
    )
    conflict_of_interest = forms.BooleanField(
        required=False, label="I have a conflict of interest with this project"
    )
    conflict_note = forms.CharField(
        required=False,
        max_length=services.MAX_STATEMENT,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="The conflict, in a sentence",
    )

    def clean(self):
        data = super().clean()
        if "ecosystem" in data and "project_name" in data:
            project = Project.objects.filter(
                ecosystem=data["ecosystem"], name__iexact=data["project_name"].strip()
            ).first()
            if project is None:
                self.add_error(
                    "project_name",
                    "No project of that name is registered on Steady in that ecosystem.",
                )
            data["project"] = project
        return data

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "project": data["project"],
            "first_contributed_on": data["first_contributed_on"],
            "first_offered_help_on": data["first_offered_help_on"],
            "conflict_of_interest": data["conflict_of_interest"],
            "conflict_note": data["conflict_note"],
        }


class VouchForm(forms.Form):
    statement = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=services.MAX_STATEMENT,
        label="Why you vouch for them",
        help_text="How you know them, for how long, and what you have seen them do.",
    )


class IdentityCheckForm(forms.Form):
    method = forms.ChoiceField(
        choices=[("", "Choose…"), *IdentityCheck.Method.choices],
        label="How the identity was checked",
    )
    checked_on = forms.DateField(
        widget=DATE, initial=timezone.localdate, label="Checked on"
    )


class ClearHoldForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=services.MAX_STATEMENT,
        label="Why the hold can be cleared",
    )


class RosterFilterForm(forms.Form):
    SHOW = [
        ("", "Everyone"),
        ("applied", "Applied"),
        ("vetted", "Vetted"),
        ("expiring", "Vetting ends within 30 days"),
        ("expired", "Vetting expired"),
        ("suspended", "Suspended"),
        ("on_hold", "On hold"),
    ]
    show = forms.ChoiceField(choices=SHOW, required=False, label="Show")
    q = forms.CharField(required=False, max_length=60, label="Handle")
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)
