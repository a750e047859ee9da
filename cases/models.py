import uuid

from django.conf import settings
from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from cases.states import Status
from portal.notices.models import HandoverNotice
from portal.projects.models import Project


class Category(models.TextChoices):
    BURNOUT = "burnout", "Burnout"
    HEALTH = "health", "Health"
    MONEY = "money", "Money"
    HARASSMENT = "harassment", "Harassment or pressure campaign"
    SUCCESSION = "succession", "Succession"
    SECURITY = "security", "Security worry"
    OTHER = "other", "Other"


class Urgency(models.IntegerChoices):
    # Lower sorts first in the queue.
    CRITICAL = 1, "Critical"
    HIGH = 2, "High"
    NORMAL = 3, "Normal"
    LOW = 4, "Low"


class HelpWanted(models.TextChoices):
    TALK = "talk", "Someone to talk to"
    STEWARD = "steward", "An interim steward"
    FUNDING = "funding", "A funding referral"
    INTERVENTION = "intervention", "Intervention against pressure"


class Case(models.Model):
    """A maintainer's confidential request for help.

    Readable only by the people holding `view_case` on it (its maintainers and assigned
    caseworkers); nobody holds that permission model-wide. See `cases/access.py`.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.PROTECT, related_name="+")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    category = models.CharField(max_length=20, choices=Category.choices)
    urgency = models.PositiveSmallIntegerField(
        choices=Urgency.choices, default=Urgency.NORMAL
    )
    help_wanted = models.JSONField(default=list)
    narrative = models.TextField()
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.NEW)
    caseworkers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="assigned_cases"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    first_response_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["urgency", "-created_at"]
        permissions = [("work_case", "Work on the case as its caseworker")]
        indexes = [models.Index(fields=["status", "urgency", "-created_at"])]

    def __str__(self) -> str:
        return f"Case {self.public_id}"

    def get_help_wanted_display(self) -> list[str]:
        labels = dict(HelpWanted.choices)
        return [labels.get(value, value) for value in self.help_wanted]


class CaseUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Case, on_delete=models.CASCADE)


class CaseGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Case, on_delete=models.CASCADE)


class CaseMessage(models.Model):
    """One entry in a case's conversation. Internal notes are for caseworkers only."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    body = models.TextField()
    is_internal = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Message {self.pk} on {self.case}"


class CaseEvent(models.Model):
    """The case timeline: who changed what, when."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        ASSIGNED = "assigned", "Caseworker assigned"
        STATUS_CHANGED = "status_changed", "Status changed"
        HANDOVER_DRAFTED = "handover_drafted", "Handover notice drafted"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    from_status = models.CharField(max_length=32, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=32, choices=Status.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.case}"


class CaseHandover(models.Model):
    """Links a case to the notice drafted from it. The notice itself never points back."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="handovers")
    notice = models.OneToOneField(
        HandoverNotice, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Handover of {self.case}"
