"""Drafting, approving and publishing notice revisions: the four-eyes rule and the consent rule."""

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from portal.accounts.roles import is_caseworker
from portal.audit.services import record_event
from portal.lib.canonical import canonical_bytes
from portal.lib.errors import Refused
from portal.lib.locks import serialize
from portal.lib.sshsig import SigningKeyError
from portal.notices import signing
from portal.notices.content import ContentError, NoticeContent, document
from portal.notices.models import (
    HandoverNotice,
    NoticePackage,
    NoticeRevision,
    Objection,
)
from portal.notices.services.log import append_to_log
from portal.notices.services.outbox import write_deliveries

Kind = NoticeRevision.Kind
State = NoticeRevision.State
_FINAL = (HandoverNotice.Status.ENDED, HandoverNotice.Status.WITHDRAWN)
_STATUS_AFTER = {
    Kind.INITIAL: HandoverNotice.Status.ACTIVE,
    Kind.AMENDMENT: HandoverNotice.Status.ACTIVE,
    Kind.CLOSURE: HandoverNotice.Status.ENDED,
    Kind.WITHDRAWAL: HandoverNotice.Status.WITHDRAWN,
}


def _require_caseworker(actor, doing: str) -> None:
    if not is_caseworker(actor):
        raise Refused(f"Only caseworkers {doing}.")


@transaction.atomic
def draft_notice(
    *, actor, content: NoticeContent, source_ip: str | None = None
) -> HandoverNotice:
    """Write a new notice whose first revision awaits a second caseworker. Nothing is public yet."""
    _require_caseworker(actor, "draft handover notices")
    notice = HandoverNotice.objects.create(
        project_name=content.project_name,
        ecosystem=content.ecosystem,
        purls=list(content.purls),
    )
    NoticeRevision.objects.create(
        notice=notice, kind=Kind.INITIAL, content=content.as_json(), drafted_by=actor
    )
    record_event(actor=actor, action="notice.drafted", obj=notice, source_ip=source_ip)
    return notice


def latest_published(notice: HandoverNotice) -> NoticeRevision | None:
    return notice.revisions.filter(state=State.PUBLISHED).order_by("-number").first()


@transaction.atomic
def propose_revision(
    *,
    notice: HandoverNotice,
    actor,
    kind: str,
    content: NoticeContent,
    source_ip: str | None = None,
) -> NoticeRevision:
    """Propose an amendment, the closure or the withdrawal of a published notice.

    Refuses non-caseworkers, notices not yet published or already ended or withdrawn, a second
    proposal while one awaits approval, and a closure or withdrawal without a statement.
    """
    _require_caseworker(actor, "revise handover notices")
    notice = HandoverNotice.objects.select_for_update().get(pk=notice.pk)
    if notice.status == HandoverNotice.Status.AWAITING_APPROVAL:
        raise Refused(
            "This notice is not published yet; its first revision awaits approval."
        )
    if notice.status in _FINAL:
        raise Refused(
            f"This notice is {notice.get_status_display().lower()}; it takes no more revisions."
        )
    if kind not in (Kind.AMENDMENT, Kind.CLOSURE, Kind.WITHDRAWAL):
        raise Refused("A revision is an amendment, a closure or a withdrawal.")
    if notice.revisions.filter(state=State.AWAITING_APPROVAL).exists():
        raise Refused(
            "Another revision of this notice awaits approval; approve or discard it first."
        )
    if kind in (Kind.CLOSURE, Kind.WITHDRAWAL) and not content.statement:
        raise Refused(
            "Say in the statement why the notice ends or is withdrawn; the public reads it."
        )
    if kind == Kind.CLOSURE and content.window_end is None:
        raise Refused("Give the date the handover window ended.")
    revision = NoticeRevision.objects.create(
        notice=notice, kind=kind, content=content.as_json(), drafted_by=actor
    )
    record_event(
        actor=actor,
        action=f"notice.{kind}_proposed",
        obj=notice,
        source_ip=source_ip,
    )
    return revision


@transaction.atomic
def discard_revision(
    *, revision: NoticeRevision, actor, source_ip: str | None = None
) -> NoticeRevision:
    """Drop a revision that awaits approval. A published revision can only be superseded."""
    _require_caseworker(actor, "discard notice revisions")
    revision = NoticeRevision.objects.select_for_update().get(pk=revision.pk)
    if revision.state != State.AWAITING_APPROVAL:
        raise Refused("Only a revision awaiting approval can be discarded.")
    revision.state = State.DISCARDED
    revision.save(update_fields=["state"])
    record_event(
        actor=actor,
        action="notice.revision_discarded",
        obj=revision.notice,
        source_ip=source_ip,
    )
    return revision


@transaction.atomic
def record_consent_unchecked(
    *, revision: NoticeRevision, actor, source_ip: str | None = None
) -> NoticeRevision:
    """Record that the outgoing maintainer (`actor`) consents to a revision awaiting approval.

    Unchecked: the caller must have checked that `actor` maintains the project (cases does,
    from the case the notice was drafted on); this app never reads case data. It refuses only
    caseworkers and the drafter.
    """
    revision = NoticeRevision.objects.select_for_update().get(pk=revision.pk)
    if revision.state != State.AWAITING_APPROVAL:
        raise Refused(
            "This revision is no longer awaiting approval; consent can no longer change it."
        )
    # SECURITY: consent is the outgoing maintainer's safeguard against the foundation itself;
    # nobody on the foundation's side may give it.
    if is_caseworker(actor) or revision.drafted_by_id == actor.pk:
        raise Refused("Caseworkers cannot consent to a notice; the maintainer does.")
    if revision.consent_recorded_by_id is None:
        revision.consent_recorded_by = actor
        revision.consent_recorded_at = timezone.now()
        revision.save(update_fields=["consent_recorded_by", "consent_recorded_at"])
        record_event(
            actor=actor,
            action="notice.consent_recorded",
            obj=revision.notice,
            source_ip=source_ip,
        )
    return revision


def approval_preview(revision: NoticeRevision) -> dict:
    """For the reviewer: what this revision adds over the revision in effect, and the outcome."""
    try:
        content = NoticeContent.from_json(revision.content)
    except (ContentError, KeyError, TypeError, ValueError) as exc:
        return {"error": str(exc), "additions": [], "waits": False}
    current = revision.notice.current_revision
    additions = content.additions_over(
        NoticeContent.from_json(current.content) if current else None
    )
    waits = bool(
        additions
        and revision.kind not in (Kind.CLOSURE, Kind.WITHDRAWAL)
        and not revision.consent_recorded_by_id
    )
    return {"error": "", "additions": additions, "waits": waits}


def _next_reference(year: int) -> str:
    prefix = f"HN-{year}-"
    # Numerically: past HN-YYYY-9999 the text order would hand out a number twice.
    taken = HandoverNotice.objects.filter(reference__startswith=prefix).values_list(
        "reference", flat=True
    )
    last = max((int(r.removeprefix(prefix)) for r in taken), default=0)
    return f"{prefix}{last + 1:04d}"


@transaction.atomic
def approve_revision(
    *, revision: NoticeRevision, actor, source_ip: str | None = None
) -> NoticeRevision:
    """Publish a revision once a caseworker who did not draft it approves it.

    In one transaction: numbers the revision, builds its canonical document, signs it with the
    foundation key, appends it to the transparency log (new signed checkpoint), updates the
    notice, and writes one pending Delivery per matching subscription; after commit a task sends
    them. A revision that adds a steward, a key or a release channel takes effect at once only
    with the outgoing maintainer's recorded consent; otherwise it is published with an
    `effective` time at the end of the public objection period.
    Refuses non-caseworkers, the drafter, revisions not awaiting approval, and final notices.
    """
    from portal.notices.tasks import dispatch_revision_task

    _require_caseworker(actor, "approve handover notices")
    # Serialise publications: the yearly reference counter, revision numbers and the log's order.
    serialize("notice-publication")
    revision = (
        NoticeRevision.objects.select_for_update()
        .select_related("notice")
        .get(pk=revision.pk)
    )
    notice = HandoverNotice.objects.select_for_update().get(pk=revision.notice_id)
    if revision.state != State.AWAITING_APPROVAL:
        raise Refused("This revision has already been published or discarded.")
    if revision.drafted_by_id == actor.pk:
        raise Refused("You drafted this revision; another caseworker must approve it.")
    if notice.status in _FINAL:
        raise Refused(
            f"This notice is {notice.get_status_display().lower()}; it takes no more revisions."
        )

    now = timezone.now().replace(microsecond=0)
    try:
        content = NoticeContent.from_json(revision.content)
    except (ContentError, KeyError, TypeError, ValueError) as exc:
        raise Refused(
            f"This revision cannot be published as it stands ({exc}); discard it and draft "
            "it again."
        ) from None
    # SECURITY: compare with the revision in effect, not the newest published one: otherwise a
    # second revision could carry a steward still in its objection period into effect at once.
    previous = notice.current_revision
    additions = content.additions_over(
        NoticeContent.from_json(previous.content) if previous else None
    )
    if not additions or revision.kind in (Kind.CLOSURE, Kind.WITHDRAWAL):
        # Ending or withdrawing a notice takes trust away; it must never wait behind the very
        # change it may be stopping.
        consent, effective = NoticeRevision.Consent.NOT_NEEDED, now
    elif revision.consent_recorded_by_id:
        consent, effective = NoticeRevision.Consent.MAINTAINER, now
    else:
        consent = NoticeRevision.Consent.OBJECTION_PERIOD
        effective = now + datetime.timedelta(days=settings.NOTICE_OBJECTION_DAYS)

    if notice.reference is None:
        notice.reference = _next_reference(now.year)
        notice.published_at = now
    number = (
        notice.revisions.filter(state=State.PUBLISHED).aggregate(n=Max("number"))["n"]
        or 0
    ) + 1
    data = canonical_bytes(
        document(
            content=content,
            reference=notice.reference,
            number=number,
            kind=revision.kind,
            published=notice.published_at,
            modified=now,
            effective=effective,
            consent=consent,
        )
    )
    try:
        signature, key_fingerprint = signing.sign_notice(data)
    except SigningKeyError as exc:
        raise Refused(
            f"The foundation's signing key cannot sign now ({exc}). Nothing was published."
        ) from None
    revision.state = State.PUBLISHED
    revision.approved_by = actor
    revision.number = number
    revision.published_at = now
    revision.effective_at = effective
    revision.consent = consent
    revision.document = data
    revision.signature = signature
    revision.signing_key = key_fingerprint
    revision.save(
        update_fields=[
            "state",
            "approved_by",
            "number",
            "published_at",
            "effective_at",
            "consent",
            "document",
            "signature",
            "signing_key",
        ]
    )
    append_to_log(revision=revision, data=data)

    notice.modified_at = now
    notice.latest_revision = revision
    fields = ["reference", "published_at", "modified_at", "latest_revision"]
    if effective <= now:
        _make_current(notice, revision)
        fields += ["current_revision", "status", "project_name", "ecosystem", "purls"]
    elif notice.status == HandoverNotice.Status.AWAITING_APPROVAL:
        # A first revision in its objection period: public, but not yet in effect.
        notice.status = HandoverNotice.Status.ACTIVE
        notice.project_name = content.project_name
        notice.ecosystem = content.ecosystem
        notice.purls = list(content.purls)
        fields += ["status", "project_name", "ecosystem", "purls"]
        NoticePackage.objects.bulk_create(
            NoticePackage(notice=notice, purl=purl) for purl in notice.purls
        )
    named = {st.handle.lower() for st in content.stewards}
    if notice.needs_revision_since and (
        revision.kind in (Kind.CLOSURE, Kind.WITHDRAWAL)
        or not named & set(notice.needs_revision_handles)
    ):
        # Cleared only by a revision that no longer names the stewards it was flagged for.
        notice.needs_revision_since = None
        notice.needs_revision_reason = ""
        notice.needs_revision_handles = []
        fields += [
            "needs_revision_since",
            "needs_revision_reason",
            "needs_revision_handles",
        ]
    notice.save(update_fields=fields)

    deliveries = write_deliveries(revision)
    record_event(
        actor=actor,
        action="notice.approved",
        obj=notice,
        source_ip=source_ip,
        data={
            "revision": number,
            "consent": consent,
            "additions": additions,
            "deliveries": deliveries,
        },
    )
    transaction.on_commit(lambda: dispatch_revision_task.delay(revision.pk))
    revision.notice = notice
    return revision


def _make_current(notice: HandoverNotice, revision: NoticeRevision) -> None:
    content = revision.content
    notice.current_revision = revision
    notice.status = _STATUS_AFTER[revision.kind]
    notice.project_name = content["project_name"]
    notice.ecosystem = content["ecosystem"]
    notice.purls = list(content["purls"])
    notice.packages.all().delete()
    NoticePackage.objects.bulk_create(
        NoticePackage(notice=notice, purl=purl) for purl in notice.purls
    )


def apply_due_revisions(*, now: datetime.datetime | None = None) -> int:
    """Beat: revisions whose objection period has passed take effect. Returns how many did."""
    now = now or timezone.now()
    applied = 0
    due = (
        NoticeRevision.objects.filter(
            state=State.PUBLISHED,
            consent=NoticeRevision.Consent.OBJECTION_PERIOD,
            effective_at__lte=now,
        )
        .exclude(notice__current_revision__number__gte=F("number"))
        .values_list("pk", flat=True)
    )
    for revision_id in list(due):
        with transaction.atomic():
            revision = NoticeRevision.objects.select_related("notice").get(
                pk=revision_id
            )
            notice = HandoverNotice.objects.select_for_update().get(
                pk=revision.notice_id
            )
            current = notice.current_revision
            if current is not None and current.number >= revision.number:
                continue
            _make_current(notice, revision)
            notice.save(
                update_fields=[
                    "current_revision",
                    "status",
                    "project_name",
                    "ecosystem",
                    "purls",
                ]
            )
            record_event(
                actor=None,
                action="notice.revision_took_effect",
                obj=notice,
                data={"revision": revision.number},
            )
            applied += 1
    return applied


@transaction.atomic
def object_to_revision(
    *,
    revision: NoticeRevision,
    name: str,
    email: str,
    reason: str,
    source_ip: str | None = None,
) -> Objection:
    """Record a public objection to a revision still in its objection period; caseworkers are told."""
    from portal.notices.tasks import tell_caseworkers_of_objection_task

    revision = NoticeRevision.objects.select_for_update().get(pk=revision.pk)
    if (
        revision.state != State.PUBLISHED
        or revision.effective_at is None
        or revision.effective_at <= timezone.now()
    ):
        raise Refused(
            "This revision is not in an objection period; write to the foundation instead."
        )
    objection = Objection.objects.create(
        revision=revision, name=name.strip(), email=email.strip(), reason=reason.strip()
    )
    record_event(
        actor=None,
        action="notice.objection_received",
        obj=revision.notice,
        source_ip=source_ip,
        data={"revision": revision.number},
    )
    transaction.on_commit(
        lambda: tell_caseworkers_of_objection_task.delay(objection.pk)
    )
    return objection


@transaction.atomic
def mark_notices_naming_steward(
    *, handle: str, reason: str, actor, source_ip: str | None = None
) -> int:
    """Flag live notices whose revision in effect, or newest revision, names steward `handle`."""
    handle = handle.lower()
    count = 0
    live = (
        HandoverNotice.objects.select_for_update(of=("self",))
        .filter(status=HandoverNotice.Status.ACTIVE)
        .select_related("latest_revision", "current_revision")
    )
    for notice in live:
        named = {
            s["handle"].lower()
            for revision in (notice.current_revision, notice.latest_revision)
            if revision is not None
            for s in revision.content.get("stewards", [])
        }
        if handle not in named:
            continue
        notice.needs_revision_since = notice.needs_revision_since or timezone.now()
        notice.needs_revision_reason = reason[:300]
        notice.needs_revision_handles = sorted({*notice.needs_revision_handles, handle})
        notice.save(
            update_fields=[
                "needs_revision_since",
                "needs_revision_reason",
                "needs_revision_handles",
            ]
        )
        record_event(
            actor=actor,
            action="notice.marked_for_revision",
            obj=notice,
            source_ip=source_ip,
        )
        count += 1
    return count
