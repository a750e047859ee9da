from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from cases.models import Category, HelpWanted, IdentityOfConcern, Scope, Urgency
from cases.screening import normalise_identity
from cases.selectors import UNASSIGNED
from cases.states import OPEN, Status, allowed_next
from portal.accounts.models import User
from portal.accounts.roles import CASEWORKER
from portal.projects.models import Ecosystem, Project


class CaseForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.none(), empty_label=None)
    category = forms.ChoiceField(
        choices=[("", "Choose…"), *Category.choices], label="What is going on"
    )
    urgency = forms.TypedChoiceField(
        choices=Urgency.choices, coerce=int, initial=Urgency.NORMAL
    )
    help_wanted = forms.MultipleChoiceField(
        choices=HelpWanted.choices,
        widget=forms.CheckboxSelectMultiple,
        label="What help would you like",
    )
    narrative = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        max_length=20000,
        label="In your own words",
        help_text="Only you and the caseworkers assigned to your case can read this.",
        error_messages={"required": "Tell us in your own words what is going on."},
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = Project.objects.filter(
            maintainerships__user=user
        ).order_by("name")


class MessageForm(forms.Form):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=20000,
        label="Message",
        error_messages={"required": "Write a message before sending."},
    )
    internal = forms.BooleanField(
        required=False, label="Internal note (caseworkers only)"
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Status.choices, label="Move to")

    def __init__(self, *args, current: str, **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(Status.choices)
        self.fields["status"].choices = [("", "Choose…")] + [
            (s, labels[s]) for s in allowed_next(current)
        ]


class AttachmentForm(forms.Form):
    file = forms.FileField(
        label="Attach a file",
        error_messages={"required": "Choose a file to attach."},
    )
    internal = forms.BooleanField(required=False, label="Internal (caseworkers only)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = (
            f"PDF, PNG, JPEG, GIF or plain text, up to {filesizeformat(settings.ATTACHMENT_MAX_BYTES)}. "
            "Checked by its content."
        )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.ATTACHMENT_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is larger than {filesizeformat(limit)}; attach a smaller one."
            )
        return upload


class CoMaintainerForm(forms.Form):
    email = forms.EmailField(
        label="Co-maintainer's email",
        help_text="They must have an account and have registered this project.",
    )


class AssignColleagueForm(forms.Form):
    caseworker = forms.ModelChoiceField(
        queryset=User.objects.none(), label="Add a caseworker"
    )

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["caseworker"].queryset = (
            User.objects.filter(groups__name=CASEWORKER, is_active=True)
            .exclude(pk__in=case.caseworkers.values("pk"))
            .order_by("display_name", "email")
        )


class ConflictForm(forms.Form):
    project = forms.ModelChoiceField(queryset=Project.objects.order_by("name"))
    reason = forms.CharField(
        max_length=300,
        required=False,
        help_text="For your colleagues, e.g. “I co-maintain it”.",
    )


class QueueFilterForm(forms.Form):
    """The triage queue's filters, read from the query string. Only known values are accepted;
    anything else is an error shown on the page, and the queue is then shown unfiltered."""

    ME = "me"
    SORTS = [
        ("urgency", "Most urgent, then newest"),
        ("oldest", "Oldest first"),
        ("due", "First response due soonest"),
    ]

    q = forms.CharField(
        required=False,
        max_length=100,
        label="Project or ecosystem",
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any open status")]
        + [(value, label) for value, label in Status.choices if value in OPEN],
    )
    urgency = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "Any urgency"), *Urgency.choices],
    )
    category = forms.ChoiceField(
        required=False, choices=[("", "Anything"), *Category.choices], label="About"
    )
    assignee = forms.ChoiceField(required=False, label="Assigned to")
    sort = forms.ChoiceField(required=False, choices=SORTS, label="Order")
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        colleagues = (
            User.objects.filter(groups__name=CASEWORKER, is_active=True)
            .exclude(pk=user.pk)
            .order_by("display_name", "email")
            .only("pk", "display_name", "email")
        )
        self.fields["assignee"].choices = [
            ("", "Anyone or nobody"),
            (self.ME, "Me"),
            (UNASSIGNED, "Nobody yet"),
            *[(str(person.pk), str(person)) for person in colleagues],
        ]

    def queue_filters(self) -> dict:
        """Keyword arguments for `selectors.triage_queue_page_for`: none unless the form is valid."""
        if not self.is_bound or not self.is_valid():
            return {}
        data = self.cleaned_data
        assignee = data["assignee"] or None
        if assignee == self.ME:
            assignee = self.user.pk
        elif assignee not in (None, UNASSIGNED):
            assignee = int(assignee)
        return {
            "search": data["q"],
            "status": data["status"] or None,
            "urgency": data["urgency"],
            "category": data["category"] or None,
            "assignee": assignee,
            "sort": data["sort"] or "urgency",
            "page": data["page"] or 1,
        }

    def querystring(self) -> str:
        """The valid filters as a query string without the page, for links to other pages."""
        if not self.is_bound or not self.is_valid():
            return ""
        return urlencode(
            {
                name: value
                for name, value in self.cleaned_data.items()
                if name != "page" and value not in (None, "")
            }
        )


def _tags(value: str) -> list[str]:
    return [t.strip() for t in value.replace("\n", ",").split(",") if t.strip()]


class StewardRequestForm(forms.Form):
    scope = forms.MultipleChoiceField(
        choices=Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        label="What the steward may do",
        help_text="Release needs a second caseworker's approval as well as yours.",
    )
    starts_on = forms.DateField(
        label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    ends_on = forms.DateField(
        label="Until", widget=forms.DateInput(attrs={"type": "date"})
    )
    ecosystem = forms.ChoiceField(choices=Ecosystem.choices)
    skills = forms.CharField(
        required=False,
        max_length=300,
        help_text="Comma-separated, e.g. “c, autotools, fuzzing”.",
    )
    hours_per_week = forms.IntegerField(min_value=1, max_value=80, initial=5)
    time_zone = forms.CharField(
        max_length=64,
        label="Your time zone",
        help_text="For example Europe/Berlin or America/Chicago.",
    )
    brief = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=10000,
        label="Brief for the steward",
        help_text="What you choose to share with the steward. They never see the rest of the case.",
    )

    def clean_skills(self):
        return _tags(self.cleaned_data["skills"])

    def clean(self):
        data = super().clean()
        if data.get("starts_on") and data.get("ends_on"):
            if data["ends_on"] <= data["starts_on"]:
                self.add_error("ends_on", "The period must end after it starts.")
        return data


class ProposeForm(forms.Form):
    steward = forms.UUIDField(widget=forms.HiddenInput)


class RespondForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("decline", "Decline")])


class ExtensionForm(forms.Form):
    new_ends_on = forms.DateField(
        label="New end date", widget=forms.DateInput(attrs={"type": "date"})
    )


class NoteForm(forms.Form):
    note = forms.CharField(
        max_length=500,
        label="Why it can be cleared",
        error_messages={"required": "Say why it can be cleared."},
    )


class SuspendForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        error_messages={"required": "Give the reason for the suspension."},
    )


class IdentityOfConcernForm(forms.Form):
    identity = forms.CharField(
        max_length=200,
        label="Account or email address",
        help_text="github:NAME, gitlab:NAME, codeberg:NAME or an email address.",
    )
    kind = forms.ChoiceField(
        choices=IdentityOfConcern.Kind.choices, label="Involved in"
    )

    def clean_identity(self):
        try:
            return normalise_identity(self.cleaned_data["identity"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class HandoverReportForm(forms.Form):
    releases = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
        required=False,
        label="Releases made",
    )
    changes_merged = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=5000,
        required=False,
        label="Changes merged",
    )
    access_granted = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=5000,
        required=False,
        label="Access you were granted",
    )
    access_returned = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=5000,
        label="Access you returned",
        error_messages={
            "required": "Say which access you returned (or that you were given none)."
        },
    )
