from django import forms
from django.core.exceptions import ValidationError

from portal.lib.purl import PurlError, normalize_purl
from portal.projects.models import Ecosystem


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=120)
    ecosystem = forms.ChoiceField(choices=Ecosystem.choices)
    repository_url = forms.URLField(
        max_length=300,
        assume_scheme="https",
        help_text="Where the source lives, e.g. https://github.com/org/name",
    )
    purls = forms.CharField(
        label="Package URLs",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One package URL (purl) per line, without a version, e.g. pkg:pypi/requests",
    )

    def clean_repository_url(self) -> str:
        url = self.cleaned_data["repository_url"]
        if not url.lower().startswith("https://"):
            raise ValidationError("Give the repository's https:// address.")
        return url

    def clean_purls(self) -> list[str]:
        lines = [
            line.strip()
            for line in self.cleaned_data["purls"].splitlines()
            if line.strip()
        ]
        if not lines:
            raise ValidationError("Give at least one package URL.")
        if len(lines) > 50:
            raise ValidationError("Give at most 50 package URLs.")
        purls, errors = [], []
        for line in lines:
            try:
                purl = normalize_purl(line)
            except PurlError as exc:
                errors.append(str(exc))
                continue
            if purl not in purls:
                purls.append(purl)
        if errors:
            raise ValidationError(errors)
        return purls
