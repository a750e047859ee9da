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
    # SECURITY: the words are stored only sealed under the case's data key (see cases/crypto.py).
    narrative_sealed = models.BinaryField(null=True, editable=False)
    # The case's data key, wrapped by master key `key_version`. Withdrawal sets it to NULL.
    wrapped_key = models.BinaryField(null=True, editable=False)
    key_version = models.PositiveSmallIntegerField(null=True, editable=False)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.NEW)
    co_maintainers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="co_maintained_cases"
    )
    caseworkers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="assigned_cases"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    # The first-response clock: set from the urgency when the case is opened.
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["urgency", "-created_at"]
        permissions = [("work_case", "Work on the case as its caseworker")]
        indexes = [
            models.Index(fields=["status", "urgency", "-created_at"]),
            models.Index(fields=["status", "first_response_due_at"]),
        ]

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

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # SECURITY: sealed under the case's data key; NULL once the case is withdrawn.
    body_sealed = models.BinaryField(null=True, editable=False)
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
        UNASSIGNED = "unassigned", "Caseworker unassigned"
        CO_MAINTAINER_ADDED = "co_maintainer_added", "Co-maintainer added"
        ATTACHMENT_ADDED = "attachment_added", "File attached"
        WITHDRAWN = "withdrawn", "Withdrawn by the maintainer"
        STEWARD_REQUESTED = "steward_requested", "Interim steward requested"
        STEWARD_PROPOSED = "steward_proposed", "Steward proposed"
        STEWARD_ACCEPTED = "steward_accepted", "Steward accepted by the maintainer"
        STEWARD_DECLINED = "steward_declined", "Steward declined by the maintainer"
        ASSIGNMENT_APPROVED = "assignment_approved", "Release scope approved"
        ASSIGNMENT_ENDED = "assignment_ended", "Assignment ended"
        HANDOVER_REPORTED = "handover_reported", "Handover report filed"

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


class CaseAttachment(models.Model):
    """A file on a case. Its name and bytes are sealed under the case's data key; the bytes live
    outside any public path (settings.ATTACHMENT_ROOT) and are served only by a checked view."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    filename_sealed = models.BinaryField(null=True, editable=False)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    # Path of the sealed bytes, relative to ATTACHMENT_ROOT; empty once the case is withdrawn.
    blob_name = models.CharField(max_length=200, blank=True)
    is_internal = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Attachment {self.public_id}"


class CaseworkerConflict(models.Model):
    """A caseworker's declared involvement with a project: they are never assigned to its cases."""

    caseworker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="declared_conflicts",
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=300, blank=True)
    declared_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-declared_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["caseworker", "project"], name="conflict_once_per_project"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.caseworker} declared a conflict on {self.project}"


class SlaWarning(models.Model):
    """One warning per case and threshold, however often the beat task runs."""

    class Threshold(models.TextChoices):
        DUE_SOON = "due_soon", "First response due soon"
        BREACHED = "breached", "First response overdue"

    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="sla_warnings"
    )
    threshold = models.CharField(max_length=16, choices=Threshold.choices)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case", "threshold"], name="sla_warning_once_per_threshold"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_threshold_display()} for {self.case}"


class IdentityOfConcern(models.Model):
    """An account a caseworker saw taking part in a pressure campaign or other worrying
    behaviour on a case. Matched across the portal by `cases.screening`, never shown off the case.

    The identity is normalised (`cases.screening.normalise_identity`): `email:<address>`,
    `github:<name>`, `gitlab:<name>` or `codeberg:<name>`, lower-case. It is stored sealed under
    the case's data key, for its caseworkers to read, and as a keyed digest, for matching
    across cases and the roster without keeping the account in the clear.
    """

    class Kind(models.TextChoices):
        PRESSURE = "pressure", "Pressure campaign"
        SOCKPUPPET = "sockpuppet", "Suspected sockpuppet"
        IMPERSONATION = "impersonation", "Impersonation"
        OTHER = "other", "Other worrying behaviour"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="identities_of_concern"
    )
    # SECURITY: HMAC-SHA256 of the normalised identity (`cases.screening.digest`), never the text.
    identity_digest = models.CharField(max_length=64, db_index=True)
    # SECURITY: the identity itself, sealed under the case's data key.
    identity_sealed = models.BinaryField(null=True, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PRESSURE)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "identity_digest"],
                name="identity_of_concern_once_per_case",
            ),
        ]

    def __str__(self) -> str:
        return f"Identity of concern {self.public_id}"


class ConcernAlert(models.Model):
    """An identity recorded on `case` turned up somewhere else. Shown to the case's caseworkers.

    SECURITY: an alert says where the identity appeared (a source and, for roster events, the
    steward's public handle), never which other case holds it or what that case says.
    """

    class Source(models.TextChoices):
        ROSTER_APPLICATION = "roster-application", "a steward application"
        VOUCH = "vouch", "a vouch for a steward"
        STEWARD_NAMED = "steward-named", "a steward proposed for an assignment"
        ROSTER = "roster", "a steward already on the roster"
        CASE = "case", "another case"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="concern_alerts"
    )
    concern = models.ForeignKey(
        IdentityOfConcern, on_delete=models.CASCADE, related_name="alerts"
    )
    source = models.CharField(max_length=32, choices=Source.choices)
    # A short non-confidential label (a steward handle); empty for a match on another case.
    subject = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Concern alert {self.public_id}"


class ConcernClearance(models.Model):
    """A caseworker looked at an identity of concern and cleared it for the roster and for
    assignments. Only concerns recorded before the clearance are cleared: a later one blocks again.
    """

    identity_digest = models.CharField(max_length=64, db_index=True)
    # The steward handle (or other public label) the clearance was made for, for the record.
    subject = models.CharField(max_length=200, blank=True)
    note = models.CharField(max_length=500)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Clearance {self.pk}"


class Scope(models.TextChoices):
    TRIAGE = "triage", "Triage"
    REVIEW = "review", "Review"
    MERGE = "merge", "Merge"
    RELEASE = "release", "Release"


class StewardRequest(models.Model):
    """A maintainer asks for an interim steward on their case.

    The brief is what the maintainer chooses to share with the steward; it is case text, sealed
    under the case's data key like a message.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Looking for a steward"
        FILLED = "filled", "Steward assigned"
        CANCELLED = "cancelled", "Cancelled"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, related_name="steward_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    scope = models.JSONField(default=list)
    starts_on = models.DateField()
    ends_on = models.DateField()
    ecosystem = models.CharField(max_length=16)
    skills = models.JSONField(default=list, blank=True)
    hours_per_week = models.PositiveSmallIntegerField()
    time_zone = models.CharField(max_length=64)
    # SECURITY: sealed under the case's data key; NULL once the case is withdrawn.
    brief_sealed = models.BinaryField(null=True, editable=False)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.OPEN
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gt=models.F("starts_on")),
                name="steward_request_period_forward",
            ),
        ]

    def __str__(self) -> str:
        return f"Steward request {self.public_id}"

    def get_scope_display(self) -> list[str]:
        labels = dict(Scope.choices)
        return [labels.get(value, value) for value in self.scope]


class Assignment(models.Model):
    """A steward proposed for, and then serving on, a steward request.

    proposed → (maintainer accepts) → awaiting approval (release scope only) → active → ended.
    A proposal the maintainer declines is declined. `is_blocked` holds it while an identity of
    concern about the steward waits for a caseworker's clearance.
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed to the maintainer"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting a second caseworker"
        ACTIVE = "active", "Active"
        DECLINED = "declined", "Declined by the maintainer"
        ENDED = "ended", "Ended"

    # Assignments that take one of the steward's places (their capacity).
    HOLDING = (Status.PROPOSED, Status.AWAITING_APPROVAL, Status.ACTIVE)

    class EndReason(models.TextChoices):
        COMPLETED = "completed", "Period over"
        SUSPENDED = "suspended", "Steward suspended"
        EARLY = "early", "Ended early"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    request = models.ForeignKey(
        StewardRequest, on_delete=models.CASCADE, related_name="assignments"
    )
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    steward = models.ForeignKey(
        "roster.StewardProfile", on_delete=models.PROTECT, related_name="assignments"
    )
    scope = models.JSONField(default=list)
    starts_on = models.DateField()
    ends_on = models.DateField()
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PROPOSED
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    responded_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    is_blocked = models.BooleanField(default=False)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=EndReason.choices, blank=True)
    end_reminder_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["steward", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gt=models.F("starts_on")),
                name="assignment_period_forward",
            ),
            # SECURITY: the four-eyes rule for release scope, held by the database too.
            models.CheckConstraint(
                condition=models.Q(approved_by__isnull=True)
                | ~models.Q(approved_by=models.F("proposed_by")),
                name="assignment_approver_is_not_proposer",
            ),
        ]

    def __str__(self) -> str:
        return f"Assignment {self.public_id}"

    @property
    def needs_second_approval(self) -> bool:
        return Scope.RELEASE in self.scope

    def get_scope_display(self) -> list[str]:
        labels = dict(Scope.choices)
        return [labels.get(value, value) for value in self.scope]


class AssignmentExtension(models.Model):
    """A later end date for an assignment, with the same approvals as the assignment itself."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed to the maintainer"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting a second caseworker"
        APPLIED = "applied", "Applied"
        DECLINED = "declined", "Declined by the maintainer"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    assignment = models.ForeignKey(
        Assignment, on_delete=models.CASCADE, related_name="extensions"
    )
    new_ends_on = models.DateField()
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PROPOSED
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(approved_by__isnull=True)
                | ~models.Q(approved_by=models.F("proposed_by")),
                name="extension_approver_is_not_proposer",
            ),
        ]

    def __str__(self) -> str:
        return f"Extension {self.public_id}"


class HandoverReport(models.Model):
    """What the steward did: releases, merged changes, access granted and returned. Sealed under
    the case's data key; read by the case's caseworkers and maintainers and the steward."""

    assignment = models.OneToOneField(
        Assignment, on_delete=models.CASCADE, related_name="handover_report"
    )
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # SECURITY: one sealed JSON object with the four answers; NULL once the case is withdrawn.
    body_sealed = models.BinaryField(null=True, editable=False)
    filed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Handover report for {self.assignment}"
