import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from portal.projects.models import Ecosystem


class HandoverNotice(models.Model):
    """A public statement that a project is in a handover gap, made of signed revisions.

    The notice row only caches what its revisions say (status, which revision is current) so lists
    need no aggregation; the revisions are the record. It holds only what caseworkers typed.
    """

    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"
        WITHDRAWN = "withdrawn", "Withdrawn"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Given at first publication, e.g. HN-2026-0007; a notice never published has none.
    reference = models.CharField(max_length=16, unique=True, null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.AWAITING_APPROVAL
    )
    # Denormalised from the current revision for filtering and listing without joins.
    project_name = models.CharField(max_length=120, blank=True)
    ecosystem = models.CharField(max_length=16, choices=Ecosystem.choices, blank=True)
    purls = models.JSONField(default=list, blank=True)
    current_revision = models.OneToOneField(
        "NoticeRevision",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The newest published revision that is in effect.",
    )
    latest_revision = models.OneToOneField(
        "NoticeRevision",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The newest published revision, in effect or still in its objection period.",
    )
    published_at = models.DateTimeField(null=True, blank=True)
    modified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Set when something the notice says stopped being true (a steward was suspended): the
    # caseworkers owe the public an amendment.
    needs_revision_since = models.DateTimeField(null=True, blank=True)
    needs_revision_reason = models.CharField(max_length=300, blank=True)
    # The steward handles the flag was raised for; a revision still naming one keeps it.
    needs_revision_handles = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-modified_at", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="awaiting_approval")
                | Q(reference__isnull=False, published_at__isnull=False),
                name="notice_public_only_with_reference",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-modified_at"]),
            models.Index(fields=["ecosystem", "-modified_at"]),
            models.Index(fields=["-modified_at", "-id"]),
        ]

    def __str__(self) -> str:
        return self.reference or f"Draft for {self.project_name}"

    @property
    def is_published(self) -> bool:
        return self.status != self.Status.AWAITING_APPROVAL


class NoticePackage(models.Model):
    """One package URL a notice currently names: an index for purl filters and dependency checks."""

    notice = models.ForeignKey(
        HandoverNotice, on_delete=models.CASCADE, related_name="packages"
    )
    purl = models.CharField(max_length=300, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["notice", "purl"], name="notice_package_once"
            ),
        ]

    def __str__(self) -> str:
        return self.purl


class NoticeRevision(models.Model):
    """One version of a notice. Once published it is signed, logged and never changes again.

    In PostgreSQL a trigger refuses UPDATE and DELETE on published rows (migration 0005).
    """

    class Kind(models.TextChoices):
        INITIAL = "initial", "First publication"
        AMENDMENT = "amendment", "Amendment"
        CLOSURE = "closure", "End of the handover"
        WITHDRAWAL = "withdrawal", "Withdrawal"

    class State(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        PUBLISHED = "published", "Published"
        DISCARDED = "discarded", "Discarded"

    class Consent(models.TextChoices):
        MAINTAINER = "maintainer", "The outgoing maintainer consented"
        OBJECTION_PERIOD = "objection-period", "Public objection period"
        NOT_NEEDED = "not-needed", "Not needed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    notice = models.ForeignKey(
        HandoverNotice, on_delete=models.PROTECT, related_name="revisions"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    state = models.CharField(
        max_length=20, choices=State.choices, default=State.AWAITING_APPROVAL
    )
    # What the caseworker typed, validated by portal.notices.content.NoticeContent.
    content = models.JSONField()

    drafted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    drafted_at = models.DateTimeField(auto_now_add=True)
    consent_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The outgoing maintainer who consented to this revision.",
    )
    consent_recorded_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    # Set at publication, together, and never again.
    number = models.PositiveIntegerField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    effective_at = models.DateTimeField(null=True, blank=True)
    consent = models.CharField(max_length=20, choices=Consent.choices, blank=True)
    # The canonical JSON bytes (docs/notice-format.md), exactly as signed and logged.
    document = models.BinaryField(null=True, blank=True)
    signature = models.TextField(blank=True)
    signing_key = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["notice", "number"]
        constraints = [
            # Four eyes: the database refuses an approval by the drafter, whatever the code does.
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("drafted_by")),
                name="revision_approver_is_not_drafter",
            ),
            models.CheckConstraint(
                condition=~Q(state="published")
                | Q(
                    approved_by__isnull=False,
                    number__isnull=False,
                    published_at__isnull=False,
                    effective_at__isnull=False,
                    document__isnull=False,
                ),
                name="revision_published_only_when_approved_and_signed",
            ),
            models.UniqueConstraint(
                fields=["notice", "number"], name="revision_number_once_per_notice"
            ),
            # One proposal at a time: a second draft would race the first for the same number.
            models.UniqueConstraint(
                fields=["notice"],
                condition=Q(state="awaiting_approval"),
                name="revision_one_awaiting_per_notice",
            ),
        ]

    def __str__(self) -> str:
        if self.number:
            return f"{self.notice.reference} revision {self.number}"
        return f"Proposed {self.get_kind_display().lower()} of {self.notice}"

    @property
    def is_published(self) -> bool:
        return self.state == self.State.PUBLISHED


class LogEntry(models.Model):
    """A leaf of the append-only transparency log: one per published revision, in order.

    The leaf data is the revision's canonical bytes; `leaf_hash` is their RFC 6962 leaf hash.
    """

    index = models.PositiveBigIntegerField(unique=True)
    revision = models.OneToOneField(
        NoticeRevision, on_delete=models.PROTECT, related_name="log_entry"
    )
    leaf_hash = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["index"]

    def __str__(self) -> str:
        return f"Log entry {self.index}"


class LogCheckpoint(models.Model):
    """The log's signed head after each append. Never updated or deleted."""

    tree_size = models.PositiveBigIntegerField(unique=True)
    root_hash = models.BinaryField()
    text = models.TextField(help_text="The signed checkpoint text.")
    signature = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-tree_size"]

    def __str__(self) -> str:
        return f"Checkpoint at size {self.tree_size}"


class Objection(models.Model):
    """A public objection to a revision that waits out its objection period."""

    revision = models.ForeignKey(
        NoticeRevision, on_delete=models.PROTECT, related_name="objections"
    )
    name = models.CharField(max_length=120)
    email = models.EmailField()
    reason = models.TextField(max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Objection to {self.revision}"


class Subscription(models.Model):
    """Someone who wants notices: by email (double opt-in) or by webhook (signed-in owners).

    A filter narrows what is sent: everything, one ecosystem, one project, or one package URL.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for confirmation"
        ACTIVE = "active", "Active"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        DISABLED = "disabled", "Disabled"

    class Filter(models.TextChoices):
        ALL = "all", "Every notice"
        ECOSYSTEM = "ecosystem", "One ecosystem"
        PROJECT = "project", "One project"
        PURL = "purl", "One package URL"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(
        max_length=8, choices=Channel.choices, default=Channel.EMAIL
    )
    email = models.EmailField(blank=True)
    url = models.URLField(max_length=2000, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_subscriptions",
    )
    # Standard Webhooks secrets ("whsec_..."), newest first; two while a rotation is under way.
    secrets = models.JSONField(default=list, blank=True)
    filter_kind = models.CharField(
        max_length=10, choices=Filter.choices, default=Filter.ALL
    )
    filter_value = models.CharField(max_length=300, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["email", "filter_kind", "filter_value"],
                condition=Q(channel="email") & ~Q(status="unsubscribed"),
                name="subscription_one_live_per_email_and_filter",
            ),
            models.CheckConstraint(
                condition=(Q(channel="email") & ~Q(email=""))
                | (Q(channel="webhook") & ~Q(url="") & Q(owner__isnull=False)),
                name="subscription_has_an_address",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "filter_kind", "filter_value"]),
        ]

    def __str__(self) -> str:
        return f"{self.email or self.url} ({self.status})"

    @property
    def is_webhook(self) -> bool:
        return self.channel == self.Channel.WEBHOOK


class Delivery(models.Model):
    """The outbox: one row per subscription and revision, written in the publishing transaction."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Delivered"
        FAILED = "failed", "Failed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    revision = models.ForeignKey(
        NoticeRevision, on_delete=models.PROTECT, related_name="deliveries"
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Not before this time: retries back off by moving it forward.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a worker last claimed the row; a row stuck in "sending" long after is requeued.
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "revision"],
                name="delivery_once_per_subscription_and_revision",
            ),
        ]
        indexes = [
            models.Index(fields=["revision", "status"]),
            models.Index(fields=["status", "claimed_at"]),
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["subscription", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk} ({self.status})"

    @property
    def webhook_id(self) -> str:
        """The `webhook-id` header: the same on every attempt, so receivers can deduplicate."""
        return f"msg_{self.public_id.hex}"
