from django import forms
from django.conf import settings

from cases.models import Category, HelpWanted, Urgency
from cases.states import Status, allowed_next
from portal.accounts.models import User
from portal.accounts.roles import CASEWORKER
from portal.projects.models import Project


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
        help_text="PDF, PNG, JPEG, GIF or plain text, up to 10 MB. Checked by its content.",
        error_messages={"required": "Choose a file to attach."},
    )
    internal = forms.BooleanField(required=False, label="Internal (caseworkers only)")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.ATTACHMENT_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is larger than {limit // (1024 * 1024)} MB; attach a smaller one."
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
