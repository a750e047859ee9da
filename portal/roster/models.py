"""The steward roster: who applied, how they were checked, who vouched for them, and what they
declared about the projects they touch. No case data lives here."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class StewardProfile(models.Model):
    """A person on (or applying to) the roster of interim stewards."""

    class Status(models.TextChoices):
        APPLIED = "applied", "Applied"
        VETTED = "vetted", "Vetted"
        SUSPENDED = "suspended", "Suspended"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="steward_profile",
    )
    handle = models.SlugField(max_length=40, unique=True)
    forge_accounts = models.JSONField(default=list, blank=True)
    ecosystems = models.JSONField(default=list, blank=True)
    languages = models.JSONField(default=list, blank=True)
    skills = models.JSONField(default=list, blank=True)
    time_zone = models.CharField(max_length=64)
    hours_per_week = models.PositiveSmallIntegerField()
    max_assignments = models.PositiveSmallIntegerField(default=1)
    statement = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.APPLIED
    )
    is_on_hold = models.BooleanField(default=False)
    hold_reason_code = models.CharField(max_length=64, blank=True)
    hold_cleared_at = models.DateTimeField(null=True, blank=True)
    hold_cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    hold_cleared_note = models.TextField(blank=True)
    vetted_at = models.DateTimeField(null=True, blank=True)
    vetted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    vetting_expires_at = models.DateTimeField(null=True, blank=True)
    expiry_reminder_sent_at = models.DateTimeField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspension_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["handle"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_assignments__gte=1),
                name="steward_max_assignments_at_least_one",
            ),
            models.CheckConstraint(
                condition=~Q(status="vetted")
                | Q(vetted_at__isnull=False, vetting_expires_at__isnull=False),
                name="steward_vetted_has_dates",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "vetting_expires_at"]),
        ]

    def __str__(self) -> str:
        return self.handle

    @property
    def is_vetted(self) -> bool:
        """Vetted, not expired and not held by an identity of concern: may be assigned."""
        return (
            self.status == self.Status.VETTED
            and self.vetting_expires_at is not None
            and self.vetting_expires_at > timezone.now()
            and not self.is_on_hold
        )

    @property
    def is_expired(self) -> bool:
        return (
            self.status == self.Status.VETTED
            and self.vetting_expires_at is not None
            and self.vetting_expires_at <= timezone.now()
        )

    def identities(self) -> list[str]:
        """Normalised identity strings for screening: `email:<address>` and each forge account."""
        found = []
        if self.user.email:
            found.append(f"email:{self.user.email.strip().lower()}")
        found.extend(str(account).lower() for account in self.forge_accounts)
        return found


class SigningKey(models.Model):
    class Kind(models.TextChoices):
        SSH = "ssh", "SSH"
        OPENPGP = "openpgp", "OpenPGP"

    steward = models.ForeignKey(
        StewardProfile, on_delete=models.CASCADE, related_name="keys"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    algorithm = models.CharField(max_length=32, blank=True)
    public_key = models.TextField()
    fingerprint = models.CharField(max_length=80)
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["added_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["steward", "fingerprint"], name="signing_key_unique_per_steward"
            ),
        ]

    def __str__(self) -> str:
        return self.fingerprint


class IdentityCheck(models.Model):
    """A caseworker confirmed who the steward is. SECURITY: the evidence itself is never stored."""

    class Method(models.TextChoices):
        VIDEO_DOCUMENT = "video-document", "Video call with an official document"
        IN_PERSON = "in-person", "In person"
        TRUSTED_ORGANISATION = (
            "trusted-organisation",
            "Through a trusted organisation",
        )

    steward = models.ForeignKey(
        StewardProfile, on_delete=models.CASCADE, related_name="identity_checks"
    )
    method = models.CharField(max_length=32, choices=Method.choices)
    checked_on = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        get_latest_by = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_method_display()} on {self.checked_on}"


class Vouch(models.Model):
    """One steward speaks for another."""

    voucher = models.ForeignKey(
        StewardProfile, on_delete=models.PROTECT, related_name="vouches_given"
    )
    vouchee = models.ForeignKey(
        StewardProfile, on_delete=models.CASCADE, related_name="vouches_received"
    )
    statement = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["voucher", "vouchee"], name="vouch_once_per_pair"
            ),
            models.CheckConstraint(
                condition=~Q(voucher=F("vouchee")), name="vouch_not_for_oneself"
            ),
        ]

    def __str__(self) -> str:
        return f"vouch {self.voucher_id} -> {self.vouchee_id}"


class ProjectInvolvement(models.Model):
    """What a steward has to do with a project: when they started contributing or first offered
    help (the eager-newcomer rule reads these) and any conflict of interest."""

    steward = models.ForeignKey(
        StewardProfile, on_delete=models.CASCADE, related_name="involvements"
    )
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.CASCADE,
        related_name="steward_involvements",
    )
    first_contributed_on = models.DateField(null=True, blank=True)
    first_offered_help_on = models.DateField(null=True, blank=True)
    conflict_of_interest = models.BooleanField(default=False)
    conflict_note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["steward", "project"], name="involvement_unique_per_project"
            ),
        ]

    def __str__(self) -> str:
        return f"involvement {self.steward_id} / {self.project_id}"
