from django.db import models, transaction
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.lib.locks import serialize

GENESIS = "0" * 64


@transaction.atomic
def record_event(
    *,
    actor,
    action: str,
    obj: models.Model,
    source_ip: str | None = None,
    data: dict | None = None,
) -> AuditEvent:
    """Append one event to the hash chain. The only writer of `AuditEvent`.

    `obj` is described by its model label and its public id where it has one, so the trail
    never needs the object's confidential fields. `data` must hold no case text.
    """
    # SECURITY: appends are serialised so two writers cannot fork the chain.
    serialize("audit-chain")
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    event = AuditEvent(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(getattr(obj, "public_id", None) or obj.pk),
        source_ip=source_ip,
        data=data or {},
        created_at=timezone.now(),
        prev_hash=last or GENESIS,
    )
    event.hash = event.compute_hash()
    event.save()
    return event
