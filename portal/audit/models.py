import hashlib
import json

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.ipv6 import clean_ipv6_address


def _canonical_ip(value: str | None) -> str | None:
    """The address as every backend gives it back: Django stores IPv6 compressed and lowercase
    (SQLite), PostgreSQL's inet prints its own form. Hashing the raw request value instead made
    an untouched row with "2001:DB8::1" look edited. Canonical values hash as before."""
    if not value or ":" not in value:
        return value
    try:
        return clean_ipv6_address(value)
    except ValidationError:
        return value


class AuditEvent(models.Model):
    """Who did what to which object, when and from where. Append-only; each row hashes the previous."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"

    def compute_hash(self) -> str:
        payload = json.dumps(
            {
                "prev": self.prev_hash,
                "actor": self.actor_id,
                "action": self.action,
                "object_type": self.object_type,
                "object_id": self.object_id,
                "source_ip": _canonical_ip(self.source_ip),
                "data": self.data,
                "created_at": self.created_at.isoformat(),
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(payload.encode()).hexdigest()
