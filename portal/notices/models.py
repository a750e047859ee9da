import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from portal.projects.models import Ecosystem


class HandoverNotice(models.Model):
    """A public statement that a project is in a handover gap. Holds only what a caseworker typed."""

    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        PUBLISHED = "published", "Published"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Given at publication, e.g. HN-2026-0007; drafts have none.
    reference = models.CharField(max_length=16, unique=True, null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.AWAITING_APPROVAL
    )

    project_name = models.CharField(max_length=120)
    ecosystem = models.CharField(max_length=16, choices=Ecosystem.choices)
    repository_url = models.URLField(max_length=300)
    purls = models.JSONField(default=list, blank=True)
    window_start = models.DateField()
    window_end = models.DateField(
        null=True, blank=True, help_text="Empty while the end is open."
    )
    steward_name = models.CharField(max_length=120)
    steward_handle = models.CharField(max_length=120)
    guidance = models.TextField()

    drafted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    drafted_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-published_at", "-drafted_at"]
        constraints = [
            # Four eyes: the database refuses an approval by the drafter, whatever the code does.
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("drafted_by")),
                name="notice_approver_is_not_drafter",
            ),
            models.CheckConstraint(
                condition=~Q(status="published")
                | Q(
                    approved_by__isnull=False,
                    published_at__isnull=False,
                    reference__isnull=False,
                ),
                name="notice_published_only_when_approved",
            ),
            models.CheckConstraint(
                condition=Q(window_end__isnull=True)
                | Q(window_end__gte=F("window_start")),
                name="notice_window_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["status", "-published_at"])]

    def __str__(self) -> str:
        return self.reference or f"Draft for {self.project_name}"

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED


class Subscription(models.Model):
    """An email address that receives every published notice, after double opt-in."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for confirmation"
        ACTIVE = "active", "Active"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["email"],
                condition=~Q(status="unsubscribed"),
                name="subscription_one_live_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.status})"


class Delivery(models.Model):
    """The outbox: one row per subscription and notice, written in the publishing transaction."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    notice = models.ForeignKey(
        HandoverNotice, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When a worker last claimed the row; a row stuck in "sending" long after is requeued.
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "notice"], name="delivery_once_per_subscription"
            ),
        ]
        indexes = [
            models.Index(fields=["notice", "status"]),
            models.Index(fields=["status", "claimed_at"]),
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk} ({self.status})"
