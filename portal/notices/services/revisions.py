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
from portal.notices import signing
from portal.notices.content import NoticeContent, document
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
def record_consent(
    *, revision: NoticeRevision, actor, source_ip: str | None = None
) -> NoticeRevision:
    """Record that the outgoing maintainer (`actor`) consents to a revision awaiting approval.

    The caller has checked that `actor` maintains the project (cases does, from the case the
    notice was drafted on); this app never reads case data.
    """
    revision = NoticeRevision.objects.select_for_update().get(pk=revision.pk)
    if revision.state != State.AWAITING_APPROVAL:
        raise Refused(
            "This revision is no longer awaiting approval; consent can no longer change it."
        )
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


def _next_reference(year: int) -> str:
    prefix = f"HN-{year}-"
    last = (
        HandoverNotice.objects.filter(reference__startswith=prefix)
        .order_by("-reference")
        .values_list("reference", flat=True)
        .first()
    )
    number = int(last.removeprefix(prefix)) + 1 if last else 1
    return f"{prefix}{number:04d}"


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
    content = NoticeContent.from_json(revision.content)
    # SECURITY: compare with the revision in effect, not the newest published one: otherwise a
    # second revision could carry a steward still in its objection period into effect at once.
    previous = notice.current_revision
    additions = content.additions_over(
        NoticeContent.from_json(previous.content) if previous else None
    )
    if not additions:
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
    signature, key_fingerprint = signing.sign_notice(data)
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
    if revision.kind != Kind.INITIAL:
        notice.needs_revision_since = None
        notice.needs_revision_reason = ""
        fields += ["needs_revision_since", "needs_revision_reason"]
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
    """Flag live notices whose current revision names steward `handle`: they need an amendment."""
    handle = handle.lower()
    count = 0
    live = HandoverNotice.objects.select_for_update(of=("self",)).filter(
        status=HandoverNotice.Status.ACTIVE
    )
    for notice in live.select_related("latest_revision"):
        # The newest revision counts even in its objection period: it names them publicly.
        named = {
            s["handle"].lower()
            for s in notice.latest_revision.content.get("stewards", [])
        }
        if handle in named:
            notice.needs_revision_since = timezone.now()
            notice.needs_revision_reason = reason[:300]
            notice.save(update_fields=["needs_revision_since", "needs_revision_reason"])
            record_event(
                actor=actor,
                action="notice.marked_for_revision",
                obj=notice,
                source_ip=source_ip,
            )
            count += 1
    return count
