from django import forms

from cases.models import Category, HelpWanted, Urgency
from cases.states import Status, allowed_next
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
