from django.db import transaction

from cases import crypto, notifications
from cases.models import Case, CaseMessage
from cases.services._common import lock, refuse_if_final
from portal.audit.services import record_event
from portal.lib.errors import Refused


@transaction.atomic
def post_message(
    *,
    case: Case,
    actor,
    body: str,
    internal: bool = False,
    source_ip: str | None = None,
) -> CaseMessage:
    """Add to a case's conversation, sealed under the case's data key.

    Internal notes: the case's caseworkers only. Refuses closed and withdrawn cases. A
    caseworker's first shared reply stops the first-response clock. After commit, a shared
    message notifies the other side by email (`cases.notifications`); a note notifies nobody.
    """
    case = lock(case)
    is_worker = actor.has_perm("cases.work_case", case)
    if not (is_worker or actor.has_perm("cases.view_case", case)):
        raise Refused("You cannot write on this case.")
    if internal and not is_worker:
        raise Refused("Only the case's caseworkers can write internal notes.")
    refuse_if_final(case, "no more messages can be added")
    if not body.strip():
        raise Refused("Write a message before sending.")
    message = CaseMessage(case=case, author=actor, is_internal=internal)
    message.body_sealed = crypto.seal_text(case, "message", message.public_id, body)
    message.save()
    if is_worker and not internal and case.first_response_at is None:
        case.first_response_at = message.created_at
        case.save(update_fields=["first_response_at"])
    record_event(
        actor=actor,
        action="note.added" if internal else "message.posted",
        obj=case,
        source_ip=source_ip,
        data={"message": str(message.public_id)},
    )
    notifications.queue_message_posted(
        case=case, message=message, by_caseworker=is_worker
    )
    return message
