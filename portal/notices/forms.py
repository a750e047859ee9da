import datetime

from django import forms
from django.core.exceptions import ValidationError

from portal.lib.purl import PurlError, normalize_purl
from portal.projects.models import Ecosystem


class SubscribeForm(forms.Form):
    email = forms.EmailField(
        max_length=254, help_text="We send one confirmation email before anything else."
    )


class NoticeDraftForm(forms.Form):
    """What a handover notice says in public. Every field here is published verbatim."""

    project_name = forms.CharField(max_length=120)
    ecosystem = forms.ChoiceField(choices=Ecosystem.choices)
    repository_url = forms.URLField(max_length=300, assume_scheme="https")
    purls = forms.CharField(
        label="Package URLs",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One purl per line, no version.",
    )
    window_start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    window_end = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty if the end is open.",
    )
    steward_name = forms.CharField(
        max_length=120, label="Interim steward's public name"
    )
    steward_handle = forms.CharField(
        max_length=120, label="Interim steward's public handle"
    )
    guidance = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=10000,
        help_text="What downstream users should do during the window. Public.",
    )

    def clean_purls(self) -> list[str]:
        lines = [
            line.strip()
            for line in self.cleaned_data["purls"].splitlines()
            if line.strip()
        ]
        if not lines:
            raise ValidationError("Give at least one package URL.")
        purls, errors = [], []
        for line in lines:
            try:
                purl = normalize_purl(line)
            except PurlError as exc:
                errors.append(str(exc))
            else:
                if purl not in purls:
                    purls.append(purl)
        if errors:
            raise ValidationError(errors)
        return purls

    def clean(self):
        data = super().clean()
        start, end = data.get("window_start"), data.get("window_end")
        if start and end and end < start:
            self.add_error(
                "window_end", "The expected end is before the start of the window."
            )
        if start and start > datetime.date.today() + datetime.timedelta(days=365):
            self.add_error(
                "window_start", "The window cannot start more than a year from now."
            )
        return data
