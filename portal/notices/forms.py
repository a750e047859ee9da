import datetime

from django import forms
from django.core.exceptions import ValidationError

from portal.lib.purl import PurlError, normalize_purl
from portal.notices import content as c
from portal.notices.models import NoticeRevision, Subscription
from portal.projects.models import Ecosystem

_LINES = {"rows": 3}


class SubscriptionFilterMixin(forms.Form):
    """Everything, one ecosystem, one project, or one package URL."""

    filter_kind = forms.ChoiceField(
        label="Which notices",
        choices=Subscription.Filter.choices,
        initial=Subscription.Filter.ALL,
        required=False,
    )
    filter_value = forms.CharField(
        label="Ecosystem, project or package URL",
        max_length=300,
        required=False,
        help_text="For one ecosystem: its code (pypi, npm, cargo, …). For one project: its name. "
        "For one package: its purl, e.g. pkg:pypi/requests.",
    )

    def clean(self):
        data = super().clean()
        kind = data.get("filter_kind") or Subscription.Filter.ALL
        value = (data.get("filter_value") or "").strip()
        data["filter_kind"] = kind
        if kind == Subscription.Filter.ALL:
            data["filter_value"] = ""
        elif not value:
            self.add_error("filter_value", "Say which ecosystem, project or package.")
        elif kind == Subscription.Filter.ECOSYSTEM:
            if value.lower() not in Ecosystem.values:
                self.add_error(
                    "filter_value",
                    f"“{value}” is not an ecosystem Steady knows; use one of "
                    f"{', '.join(Ecosystem.values)}.",
                )
            data["filter_value"] = value.lower()
        elif kind == Subscription.Filter.PROJECT:
            data["filter_value"] = value.lower()
        elif kind == Subscription.Filter.PURL:
            try:
                data["filter_value"] = normalize_purl(value)
            except PurlError as exc:
                self.add_error("filter_value", str(exc))
        return data


class SubscribeForm(SubscriptionFilterMixin):
    email = forms.EmailField(
        max_length=254, help_text="We send one confirmation email before anything else."
    )
    field_order = ["email", "filter_kind", "filter_value"]


class WebhookForm(SubscriptionFilterMixin):
    url = forms.CharField(
        label="Receiver URL",
        max_length=2000,
        help_text="An https:// address on the public internet. Redirects are not followed.",
    )
    field_order = ["url", "filter_kind", "filter_value"]


class ObjectionForm(forms.Form):
    name = forms.CharField(max_length=120)
    email = forms.EmailField(max_length=254, help_text="So the foundation can reply.")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), max_length=5000)


class NoticeContentForm(forms.Form):
    """What a handover notice says in public. Every field here is published verbatim."""

    project_name = forms.CharField(max_length=120)
    ecosystem = forms.ChoiceField(choices=Ecosystem.choices)
    repository_url = forms.URLField(max_length=300, assume_scheme="https")
    purls = forms.CharField(
        label="Package URLs",
        widget=forms.Textarea(attrs=_LINES),
        help_text="One purl per line, no version.",
    )
    window_start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    window_end = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty if the end is open.",
    )
    scope = forms.MultipleChoiceField(
        choices=[(s, s.capitalize()) for s in c.SCOPES],
        widget=forms.CheckboxSelectMultiple,
        help_text="What the interim stewards may do.",
    )
    stewards = forms.CharField(
        label="Interim stewards",
        widget=forms.Textarea(attrs=_LINES),
        help_text="One a line: handle | public name | forge accounts | key fingerprints, e.g. "
        "stella | Stella Steward | github:stella | SHA256:…",
    )
    authorized_identities = forms.CharField(
        label="Identities authorised to commit and release",
        required=False,
        widget=forms.Textarea(attrs=_LINES),
        help_text="One a line: Name <email> | key fingerprint or - | commit, release",
    )
    release_channels = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs=_LINES),
        help_text="Where releases appear (https:// links), one a line.",
    )
    releases = forms.CharField(
        label="Releases made during the window",
        required=False,
        widget=forms.Textarea(attrs=_LINES),
        help_text="One a line: version | YYYY-MM-DD",
    )
    guidance = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=10000,
        help_text="What downstream users should do during the window (Markdown). Public.",
    )
    references = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs=_LINES),
        help_text="Links (https://), one a line.",
    )
    statement = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs=_LINES),
        max_length=5000,
        help_text="What changed and why; for an end or a withdrawal, the reason. Public.",
    )
    handover_report = forms.CharField(
        label="Handover report summary",
        required=False,
        widget=forms.Textarea(attrs=_LINES),
        max_length=10000,
        help_text="For the end of a handover: what the steward's report says was done. Public.",
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

    def _parsed(self, name: str, parse):
        try:
            return parse(self.cleaned_data.get(name, ""))
        except c.ContentError as exc:
            raise ValidationError(str(exc)) from None

    def clean_stewards(self):
        return self._parsed("stewards", c.parse_stewards)

    def clean_authorized_identities(self):
        return self._parsed("authorized_identities", c.parse_identities)

    def clean_releases(self):
        return self._parsed("releases", c.parse_releases)

    def clean_release_channels(self):
        return self._parsed(
            "release_channels", lambda t: c.parse_urls(t, "Release channel")
        )

    def clean_references(self):
        return self._parsed("references", lambda t: c.parse_urls(t, "Reference"))

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
        if not self.errors:
            try:
                self.content = c.NoticeContent(
                    project_name=data["project_name"],
                    ecosystem=data["ecosystem"],
                    repository_url=data["repository_url"],
                    purls=tuple(data["purls"]),
                    window_start=data["window_start"],
                    window_end=data.get("window_end"),
                    scope=tuple(data["scope"]),
                    stewards=data["stewards"],
                    authorized_identities=data["authorized_identities"],
                    guidance=data["guidance"],
                    release_channels=data["release_channels"],
                    releases=data["releases"],
                    references=data["references"],
                    statement=data.get("statement", ""),
                    handover_report=data.get("handover_report", ""),
                    handover_report_filed=(
                        datetime.date.today() if data.get("handover_report") else None
                    ),
                )
            except c.ContentError as exc:
                raise ValidationError(str(exc)) from None
        return data

    @classmethod
    def initial_from(cls, content: c.NoticeContent) -> dict:
        return {
            "project_name": content.project_name,
            "ecosystem": content.ecosystem,
            "repository_url": content.repository_url,
            "purls": "\n".join(content.purls),
            "window_start": content.window_start,
            "window_end": content.window_end,
            "scope": list(content.scope),
            "stewards": c.stewards_as_text(content.stewards),
            "authorized_identities": c.identities_as_text(
                content.authorized_identities
            ),
            "release_channels": "\n".join(content.release_channels),
            "releases": c.releases_as_text(content.releases),
            "guidance": content.guidance,
            "references": "\n".join(content.references),
        }


class RevisionForm(NoticeContentForm):
    kind = forms.ChoiceField(
        label="This revision",
        choices=[
            (NoticeRevision.Kind.AMENDMENT, "Amends the notice"),
            (NoticeRevision.Kind.CLOSURE, "Ends the handover (closure)"),
            (NoticeRevision.Kind.WITHDRAWAL, "Withdraws the notice"),
        ],
    )
    field_order = ["kind"]
