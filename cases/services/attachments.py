import logging
import os
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.template.defaultfilters import filesizeformat

from cases import crypto
from cases.models import Case, CaseAttachment, CaseEvent
from cases.services._common import lock, refuse_if_final, timeline
from cases.uploads import UploadRefused, clean_filename, sniff
from portal.audit.services import record_event
from portal.lib.errors import Refused

log = logging.getLogger(__name__)


def _path(blob_name: str) -> Path:
    return Path(settings.ATTACHMENT_ROOT) / blob_name


@transaction.atomic
def add_attachment(
    *,
    case: Case,
    actor,
    name: str,
    data: bytes,
    internal: bool = False,
    source_ip: str | None = None,
) -> CaseAttachment:
    """Attach a file to a case: type checked by content, size limited, name cleaned, name and
    bytes sealed under the case's data key and written outside any public path.

    Internal files (caseworkers only) follow the rule of internal notes. Refuses closed cases.
    """
    case = lock(case)
    is_worker = actor.has_perm("cases.work_case", case)
    if not (is_worker or actor.has_perm("cases.view_case", case)):
        raise Refused("You cannot add files to this case.")
    if internal and not is_worker:
        raise Refused("Only the case's caseworkers can add internal files.")
    refuse_if_final(case, "no more files can be added")
    limit = settings.ATTACHMENT_MAX_BYTES
    if len(data) > limit:
        raise Refused(
            f"The file is larger than {filesizeformat(limit)}; attach a smaller one."
        )
    try:
        content_type, extension = sniff(data)
    except UploadRefused as exc:
        raise Refused(str(exc)) from None
    attachment = CaseAttachment(
        case=case,
        uploaded_by=actor,
        content_type=content_type,
        size=len(data),
        is_internal=internal,
    )
    attachment.filename_sealed = crypto.seal_text(
        case, "attachment-name", attachment.public_id, clean_filename(name, extension)
    )
    attachment.blob_name = f"{case.public_id}/{attachment.public_id}"
    path = _path(attachment.blob_name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    sealed = crypto.seal_bytes(case, "attachment", attachment.public_id, data)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(sealed)
    try:
        attachment.save()
        # Internal files stay invisible to maintainers: not even the timeline mentions them.
        if not internal:
            timeline(case, actor, CaseEvent.Kind.ATTACHMENT_ADDED)
        record_event(
            actor=actor,
            action="attachment.added",
            obj=case,
            source_ip=source_ip,
            data={"attachment": str(attachment.public_id), "internal": internal},
        )
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return attachment


def attachment_name(attachment: CaseAttachment) -> str | None:
    """The display name, or None once the case is withdrawn."""
    if attachment.filename_sealed is None:
        return None
    return crypto.open_text(
        attachment.case,
        "attachment-name",
        attachment.public_id,
        attachment.filename_sealed,
    )


def read_attachment(
    *, attachment: CaseAttachment, actor, source_ip: str | None = None
) -> tuple[str, str, bytes]:
    """Open a file for download and audit the read. Returns (name, content type, bytes).

    The caller has fetched `attachment` through `cases.access`, which checks who may see it.
    """
    if not attachment.blob_name or attachment.filename_sealed is None:
        raise Refused("This file was erased when the case was withdrawn.")
    sealed = _path(attachment.blob_name).read_bytes()
    data = crypto.open_bytes(
        attachment.case, "attachment", attachment.public_id, sealed
    )
    record_event(
        actor=actor,
        action="attachment.downloaded",
        obj=attachment.case,
        source_ip=source_ip,
        data={
            "attachment": str(attachment.public_id),
            "internal": attachment.is_internal,
        },
    )
    return attachment_name(attachment), attachment.content_type, data


def delete_blobs_after_commit(blob_names: list[str]) -> None:
    """Remove sealed files from disk once the transaction that erased their rows commits."""

    def delete():
        for name in blob_names:
            try:
                _path(name).unlink(missing_ok=True)
            except OSError:
                log.exception("could not delete an erased attachment file")

    transaction.on_commit(delete)
