"""The revision lifecycle: four eyes, consent or objection period, signatures and the log."""

import base64
import datetime
import json
import re
import shutil
import subprocess
import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.lib import merkle
from portal.lib.canonical import parse_canonical
from portal.lib.checkpoint import verify_checkpoint
from portal.lib.errors import Refused
from portal.notices import services, signing
from portal.notices.content import parse_identities, parse_stewards
from portal.notices.models import (
    Delivery,
    HandoverNotice,
    LogCheckpoint,
    LogEntry,
    NoticeRevision,
    Objection,
)
from portal.notices.services import log
from portal.notices.verification import verify_log
from tests.factories import SubscriptionFactory
from tests.portal.notices.conftest import approve, content, draft, publish

pytestmark = pytest.mark.django_db

DRAFTER_REFUSAL = "You drafted this revision; another caseworker must approve it."
NEW_STEWARD = "newcomer | Nia Newcomer | github:nia | SHA256:" + "N" * 43


def _year() -> int:
    return timezone.now().year


def _awaiting(notice) -> NoticeRevision:
    return notice.revisions.get(state=NoticeRevision.State.AWAITING_APPROVAL)


def _snapshot(notice):
    """Everything an approval may write, so a refusal can be shown to have written nothing."""
    notice.refresh_from_db()
    return (
        notice.status,
        notice.reference,
        notice.current_revision_id,
        list(notice.revisions.values_list("state", "number", "approved_by_id")),
        Delivery.objects.count(),
        LogEntry.objects.count(),
        LogCheckpoint.objects.count(),
        AuditEvent.objects.count(),
    )


def _amend(notice, drafter, approver, *, kind="amendment", consent_by=None, **changes):
    base = content(**changes)
    revision = services.propose_revision(
        notice=notice, actor=drafter, kind=kind, content=base
    )
    if consent_by is not None:
        services.record_consent_unchecked(revision=revision, actor=consent_by)
    return services.approve_revision(revision=revision, actor=approver)


# --- drafting and four eyes -------------------------------------------------------------------


def test_caseworker_drafts_a_notice_awaiting_approval(caseworker):
    notice = draft(caseworker)
    assert notice.status == HandoverNotice.Status.AWAITING_APPROVAL
    assert notice.reference is None
    revision = _awaiting(notice)
    assert (revision.kind, revision.drafted_by, revision.number) == (
        "initial",
        caseworker,
        None,
    )
    assert revision.document is None and revision.signature == ""
    assert (
        AuditEvent.objects.filter(action="notice.drafted", actor=caseworker).count()
        == 1
    )


@pytest.mark.parametrize("role", ["maintainer", "steward", "stranger"])
def test_non_caseworker_cannot_draft_a_notice(request, role):
    with pytest.raises(Refused, match="Only caseworkers draft"):
        draft(request.getfixturevalue(role))
    assert HandoverNotice.objects.count() == 0


def test_drafter_cannot_approve_and_nothing_changes(draft_notice, caseworker):
    SubscriptionFactory.create_batch(2)
    before = _snapshot(draft_notice)
    with pytest.raises(Refused, match=re.escape(DRAFTER_REFUSAL)):
        services.approve_revision(revision=_awaiting(draft_notice), actor=caseworker)
    assert _snapshot(draft_notice) == before
    assert draft_notice.reference is None


@pytest.mark.parametrize("role", ["maintainer", "steward", "stranger"])
def test_non_caseworker_cannot_approve(request, role, draft_notice):
    before = _snapshot(draft_notice)
    with pytest.raises(Refused, match="Only caseworkers approve"):
        services.approve_revision(
            revision=_awaiting(draft_notice), actor=request.getfixturevalue(role)
        )
    assert _snapshot(draft_notice) == before


def test_database_refuses_approval_by_the_drafter_even_without_the_service(
    draft_notice, caseworker, second_caseworker
):
    revision = _awaiting(draft_notice)
    with transaction.atomic(), pytest.raises(IntegrityError):
        NoticeRevision.objects.filter(pk=revision.pk).update(approved_by=caseworker)
    # The same write naming someone else is accepted: the constraint, not the write, refused.
    NoticeRevision.objects.filter(pk=revision.pk).update(approved_by=second_caseworker)


def test_second_caseworker_publishes_with_yearly_references_and_revision_numbers(
    caseworker, second_caseworker, maintainer
):
    first = publish(
        caseworker, second_caseworker, consent_by=maintainer, project_name="a"
    )
    second = publish(
        caseworker, second_caseworker, consent_by=maintainer, project_name="b"
    )
    year = _year()
    assert (first.reference, second.reference) == (f"HN-{year}-0001", f"HN-{year}-0002")
    assert first.status == HandoverNotice.Status.ACTIVE
    assert first.current_revision.number == 1
    assert first.current_revision.approved_by == second_caseworker
    amended = _amend(first, caseworker, second_caseworker, project_name="a")
    assert amended.number == 2
    assert json.loads(bytes(amended.document))["id"] == first.reference


def test_reference_counter_restarts_each_year(caseworker, second_caseworker):
    old = draft(caseworker, project_name="old")
    HandoverNotice.objects.filter(pk=old.pk).update(
        reference="HN-2020-0042",
        status=HandoverNotice.Status.ACTIVE,
        published_at=timezone.now() - datetime.timedelta(days=365 * 5),
    )
    notice = publish(caseworker, second_caseworker, project_name="new")
    assert notice.reference == f"HN-{_year()}-0001"


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_approvals_never_share_a_reference_or_a_log_index(
    caseworker, second_caseworker
):
    first, second = (
        draft(caseworker, project_name="a"),
        draft(caseworker, project_name="b"),
    )
    outcome = {}

    def approve_second():
        try:
            outcome["reference"] = services.approve_revision(
                revision=_awaiting(second), actor=second_caseworker
            ).notice.reference
        except Exception as exc:  # noqa: BLE001 - reported to the test thread
            outcome["error"] = exc
        finally:
            connection.close()

    other = threading.Thread(target=approve_second)
    with transaction.atomic():
        services.approve_revision(revision=_awaiting(first), actor=second_caseworker)
        other.start()
        other.join(timeout=1)
        assert other.is_alive(), "the second approval must wait for the first to commit"
    other.join(timeout=10)
    assert outcome == {"reference": f"HN-{_year()}-0002"}
    assert list(LogEntry.objects.values_list("index", flat=True)) == [0, 1]


def test_approving_twice_is_refused(published_notice, unassigned_caseworker):
    revision = published_notice.current_revision
    with pytest.raises(Refused, match="already been published"):
        services.approve_revision(revision=revision, actor=unassigned_caseworker)


# --- consent or objection period --------------------------------------------------------------


def test_new_steward_without_consent_waits_out_the_objection_period(
    caseworker, second_caseworker, settings
):
    settings.NOTICE_OBJECTION_DAYS = 21
    notice = publish(caseworker, second_caseworker)
    revision = notice.latest_revision
    assert revision.consent == NoticeRevision.Consent.OBJECTION_PERIOD
    assert revision.effective_at - revision.published_at == datetime.timedelta(days=21)
    assert notice.current_revision is None  # public, signed, but not in effect yet
    doc = json.loads(bytes(revision.document))
    assert (doc["consent"], doc["effective"] > doc["modified"]) == (
        "objection-period",
        True,
    )

    assert services.apply_due_revisions() == 0
    assert services.apply_due_revisions(now=revision.effective_at) == 1
    notice.refresh_from_db()
    assert notice.current_revision == revision


def test_maintainer_consent_makes_a_new_steward_effective_at_once(
    caseworker, second_caseworker, maintainer
):
    notice = publish(caseworker, second_caseworker, consent_by=maintainer)
    revision = notice.current_revision
    assert revision.consent == NoticeRevision.Consent.MAINTAINER
    assert revision.effective_at == revision.published_at
    assert revision.consent_recorded_by == maintainer


def test_amendment_without_additions_needs_no_consent(
    caseworker, second_caseworker, published_notice
):
    revision = _amend(
        published_notice,
        caseworker,
        second_caseworker,
        project_name="published-lib",
        guidance="Updated guidance.",
    )
    assert revision.consent == NoticeRevision.Consent.NOT_NEEDED
    published_notice.refresh_from_db()
    assert published_notice.current_revision == revision


@pytest.mark.parametrize(
    "change",
    [
        {"stewards": parse_stewards(NEW_STEWARD)},
        {"release_channels": ("https://pypi.org/project/other/",)},
        {
            "stewards": parse_stewards(
                "stella-ruiz | Stella Ruiz | github:stella-ruiz | SHA256:" + "K" * 43
            )
        },
    ],
    ids=["steward", "release-channel", "key"],
)
def test_adding_a_steward_key_or_channel_without_consent_is_held(
    caseworker, second_caseworker, published_notice, change
):
    revision = _amend(
        published_notice,
        caseworker,
        second_caseworker,
        project_name="published-lib",
        **change,
    )
    assert revision.consent == NoticeRevision.Consent.OBJECTION_PERIOD
    published_notice.refresh_from_db()
    assert published_notice.current_revision.number == 1


def test_a_later_revision_cannot_carry_a_held_steward_into_effect(
    caseworker, second_caseworker, published_notice
):
    held = _amend(
        published_notice,
        caseworker,
        second_caseworker,
        project_name="published-lib",
        stewards=parse_stewards(NEW_STEWARD),
    )
    # The next revision still names the newcomer: compared with what is in effect, it adds them.
    later = _amend(
        published_notice,
        caseworker,
        second_caseworker,
        project_name="published-lib",
        stewards=parse_stewards(NEW_STEWARD),
        guidance="A typo fixed.",
    )
    assert later.consent == NoticeRevision.Consent.OBJECTION_PERIOD
    assert later.effective_at >= held.effective_at
    published_notice.refresh_from_db()
    assert published_notice.current_revision.number == 1


def test_objection_is_recorded_only_during_the_period(
    caseworker, second_caseworker, maintainer, django_capture_on_commit_callbacks
):
    notice = publish(caseworker, second_caseworker)
    with django_capture_on_commit_callbacks(execute=True):
        services.object_to_revision(
            revision=notice.latest_revision,
            name="Dana Distro",
            email="dana@example.net",
            reason="I have never heard of this steward.",
        )
    assert Objection.objects.count() == 1
    immediate = publish(caseworker, second_caseworker, consent_by=maintainer)
    with pytest.raises(Refused, match="not in an objection period"):
        services.object_to_revision(
            revision=immediate.current_revision, name="x", email="x@e.org", reason="no"
        )
    assert Objection.objects.count() == 1


# --- closure and withdrawal -------------------------------------------------------------------


def test_closure_needs_a_statement_and_an_end_then_takes_no_more_revisions(
    caseworker, second_caseworker, published_notice
):
    with pytest.raises(Refused, match="statement"):
        services.propose_revision(
            notice=published_notice,
            actor=caseworker,
            kind="closure",
            content=content(project_name="published-lib"),
        )
    with pytest.raises(Refused, match="date the handover window ended"):
        services.propose_revision(
            notice=published_notice,
            actor=caseworker,
            kind="closure",
            content=content(
                project_name="published-lib", window_end=None, statement="Done."
            ),
        )
    closure = _amend(
        published_notice,
        caseworker,
        second_caseworker,
        kind="closure",
        project_name="published-lib",
        statement="The maintainer is back.",
        handover_report="Released 1.4.1; access returned.",
        handover_report_filed=datetime.date(2027, 3, 2),
    )
    doc = json.loads(bytes(closure.document))
    assert (doc["kind"], doc["status"]) == ("closure", "ended")
    assert doc["handover_report"]["summary"] == "Released 1.4.1; access returned."
    published_notice.refresh_from_db()
    assert published_notice.status == HandoverNotice.Status.ENDED
    with pytest.raises(Refused, match="takes no more revisions"):
        services.propose_revision(
            notice=published_notice,
            actor=caseworker,
            kind="amendment",
            content=content(project_name="published-lib"),
        )


def test_withdrawal_says_why(caseworker, second_caseworker, published_notice):
    revision = _amend(
        published_notice,
        caseworker,
        second_caseworker,
        kind="withdrawal",
        project_name="published-lib",
        statement="Published in error.",
    )
    assert json.loads(bytes(revision.document))["status"] == "withdrawn"


def test_only_one_proposal_at_a_time(caseworker, published_notice):
    services.propose_revision(
        notice=published_notice,
        actor=caseworker,
        kind="amendment",
        content=content(project_name="published-lib"),
    )
    with pytest.raises(Refused, match="awaits approval"):
        services.propose_revision(
            notice=published_notice,
            actor=caseworker,
            kind="amendment",
            content=content(project_name="published-lib"),
        )


def test_suspended_steward_marks_the_notices_naming_them(
    caseworker, published_notice, draft_notice
):
    assert (
        services.mark_notices_naming_steward(
            handle="Stella-Ruiz", reason="Steward suspended", actor=caseworker
        )
        == 1
    )
    published_notice.refresh_from_db()
    assert published_notice.needs_revision_since is not None
    assert published_notice.needs_revision_reason == "Steward suspended"


# --- deliveries follow the subscription filters -----------------------------------------------


def test_approval_writes_one_delivery_per_matching_active_subscription(
    caseworker, second_caseworker, maintainer, django_capture_on_commit_callbacks
):
    everything = SubscriptionFactory()
    ecosystem = SubscriptionFactory(filter_kind="ecosystem", filter_value="generic")
    project = SubscriptionFactory(filter_kind="project", filter_value="tinyzip")
    purl = SubscriptionFactory(
        filter_kind="purl", filter_value="pkg:github/example/tinyzip"
    )
    SubscriptionFactory(filter_kind="ecosystem", filter_value="npm")
    SubscriptionFactory(filter_kind="purl", filter_value="pkg:pypi/other")
    SubscriptionFactory(status="pending")
    notice = draft(caseworker)
    with django_capture_on_commit_callbacks() as callbacks:
        revision = approve(notice, second_caseworker).latest_revision
        assert set(
            Delivery.objects.filter(revision=revision).values_list(
                "subscription_id", flat=True
            )
        ) == {everything.pk, ecosystem.pk, project.pk, purl.pk}
    assert len(callbacks) == 1  # the dispatch task, queued only after commit


# --- signatures and the log -------------------------------------------------------------------


def test_document_is_canonical_and_matches_the_format(published_notice):
    revision = published_notice.current_revision
    doc = parse_canonical(bytes(revision.document))
    assert doc["format"] == "steady-notice/1"
    assert doc["id"] == published_notice.reference
    assert doc["project"]["purls"] == ["pkg:github/example/tinyzip"]
    assert doc["authorized_identities"][0]["may"] == ["commit", "release"]
    assert revision.signing_key == signing.current_key().fingerprint


def _ssh_verify(tmp_path, data: bytes, signature: str, allowed: str, namespace: str):
    (tmp_path / "allowed_signers").write_text(allowed)
    (tmp_path / "doc.sig").write_text(signature)
    return subprocess.run(  # noqa: S603 - fixed arguments, our own files
        [
            shutil.which("ssh-keygen"),
            "-Y",
            "verify",
            "-f",
            str(tmp_path / "allowed_signers"),
            "-I",
            "notices@steady.localhost",
            "-n",
            namespace,
            "-s",
            str(tmp_path / "doc.sig"),
        ],
        input=data,
        capture_output=True,
        check=False,
    )


def test_stock_ssh_keygen_verifies_every_revision_and_rejects_tampering(
    tmp_path, caseworker, second_caseworker, published_notice
):
    _amend(
        published_notice,
        caseworker,
        second_caseworker,
        project_name="published-lib",
        guidance="Second revision.",
    )
    allowed = signing.allowed_signers_file()
    for revision in published_notice.revisions.filter(state="published"):
        data = bytes(revision.document)
        ok = _ssh_verify(tmp_path, data, revision.signature, allowed, "steady-notice")
        assert ok.returncode == 0, ok.stderr
        flipped = bytearray(data)
        flipped[10] ^= 1
        bad = _ssh_verify(
            tmp_path, bytes(flipped), revision.signature, allowed, "steady-notice"
        )
        assert bad.returncode != 0
        wrong = _ssh_verify(
            tmp_path, data, revision.signature, allowed, "steady-checkpoint"
        )
        assert wrong.returncode != 0


def test_ssh_keygen_rejects_a_signature_from_an_expired_key(
    tmp_path, settings, caseworker, second_caseworker, maintainer
):
    from portal.lib.sshsig import parse_signing_keys

    notice = publish(caseworker, second_caseworker, consent_by=maintainer)
    revision = notice.current_revision
    (key,) = parse_signing_keys(
        "2020-01-01..2021-01-01:" + base64.b64encode(b"s" * 32).decode()
    )
    settings.NOTICE_SIGNING_KEYS = [
        type(key)(
            settings.NOTICE_SIGNING_KEYS[0].private_key,
            key.valid_after,
            key.valid_before,
        )
    ]
    expired = _ssh_verify(
        tmp_path,
        bytes(revision.document),
        revision.signature,
        signing.allowed_signers_file(),
        "steady-notice",
    )
    assert expired.returncode != 0


def test_every_revision_has_an_inclusion_proof_and_the_log_only_grows(
    caseworker, second_caseworker, maintainer
):
    notices = [
        publish(
            caseworker, second_caseworker, consent_by=maintainer, project_name=f"p{i}"
        )
        for i in range(5)
    ]
    checkpoint = log.latest_checkpoint()
    assert checkpoint.tree_size == 5
    verify_checkpoint(
        checkpoint.text, checkpoint.signature, signing.allowed_signers(), timezone.now()
    )
    for notice in notices:
        proof = log.inclusion(revision=notice.current_revision)
        assert merkle.verify_inclusion(
            proof["index"],
            proof["tree_size"],
            merkle.leaf_hash(bytes(notice.current_revision.document)),
            [base64.b64decode(h) for h in proof["audit_path"]],
            bytes(checkpoint.root_hash),
        )
    first = LogCheckpoint.objects.get(tree_size=2)
    consistency = log.consistency(first=2, second=5)
    assert merkle.verify_consistency(
        2,
        5,
        bytes(first.root_hash),
        bytes(checkpoint.root_hash),
        [base64.b64decode(h) for h in consistency["proof"]],
    )
    with pytest.raises(Refused, match="between 1 and"):
        log.consistency(first=3, second=9)
    report = verify_log()
    assert (report.entries, report.checkpoints, report.problems) == (5, 5, [])


def test_verify_log_names_a_rewritten_revision(
    caseworker, second_caseworker, maintainer
):
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL refuses the rewrite itself (see the trigger test)")
    notice = publish(caseworker, second_caseworker, consent_by=maintainer)
    NoticeRevision.objects.filter(pk=notice.current_revision_id).update(
        document=bytes(notice.current_revision.document).replace(b"tinyzip", b"tinyzap")
    )
    problems = verify_log().problems
    assert any("no longer match the log" in p for p in problems)
    assert any("signature does not verify" in p for p in problems)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL trigger")
def test_postgresql_refuses_to_change_or_delete_published_revisions_and_the_log(
    published_notice, draft_notice
):
    revision = published_notice.current_revision

    def raw(sql):
        with connection.cursor() as cursor:
            cursor.execute(sql, [revision.pk])

    for statement in (
        lambda: NoticeRevision.objects.filter(pk=revision.pk).update(signature="x"),
        # Raw SQL, so Django's PROTECT cannot be what refuses the delete.
        lambda: raw("DELETE FROM notices_noticerevision WHERE id = %s"),
        lambda: LogEntry.objects.update(leaf_hash=b"x" * 32),
        lambda: raw(
            "DELETE FROM notices_logcheckpoint WHERE tree_size >= 1 AND %s > 0"
        ),
        lambda: raw("DELETE FROM notices_logentry WHERE revision_id = %s"),
    ):
        with pytest.raises(Exception, match="refused"), transaction.atomic():
            statement()
    # A revision still awaiting approval may change (approval publishes it).
    NoticeRevision.objects.filter(pk=_awaiting(draft_notice).pk).update(content={})


# --- what counts as trusting someone new ------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {
            "stewards": parse_stewards(
                "stella-ruiz | Stella Ruiz | github:jiatan | SHA256:" + "S" * 43
            )
        },
        {
            "authorized_identities": parse_identities(
                "Stella Ruiz <stella@example.org> | SHA256:"
                + "S" * 43
                + " | commit, release\nJia <jt@evil.example> | - | commit, release"
            )
        },
        {
            "authorized_identities": parse_identities(
                "Stella Ruiz <stella@example.org> | SHA256:" + "S" * 43 + " | commit"
            ),
            "scope": ("triage", "review", "merge", "release"),
        },
    ],
    ids=["forge-account", "identity-without-key", "baseline"],
)
def test_a_new_forge_account_or_identity_counts_as_an_addition(
    caseworker, second_caseworker, maintainer, change, request
):
    notice = publish(
        caseworker,
        second_caseworker,
        consent_by=maintainer,
        authorized_identities=parse_identities(
            "Stella Ruiz <stella@example.org> | SHA256:" + "S" * 43 + " | commit"
        ),
    )
    revision = _amend(notice, caseworker, second_caseworker, **change)
    expected = (
        NoticeRevision.Consent.NOT_NEEDED
        if request.node.callspec.id == "baseline"
        else NoticeRevision.Consent.OBJECTION_PERIOD
    )
    assert revision.consent == expected


def test_caseworkers_cannot_consent(draft_notice, caseworker, second_caseworker):
    for person in (caseworker, second_caseworker):
        with pytest.raises(Refused, match="Caseworkers cannot consent"):
            services.record_consent_unchecked(
                revision=_awaiting(draft_notice), actor=person
            )
    assert _awaiting(draft_notice).consent_recorded_by is None


def test_a_withdrawal_stops_a_change_still_in_its_objection_period(
    caseworker, second_caseworker, published_notice
):
    held = _amend(
        published_notice,
        caseworker,
        second_caseworker,
        project_name="published-lib",
        stewards=parse_stewards(NEW_STEWARD),
    )
    withdrawal = _amend(
        published_notice,
        caseworker,
        second_caseworker,
        kind="withdrawal",
        project_name="published-lib",
        stewards=parse_stewards(NEW_STEWARD),
        statement="An objection showed the newcomer is not who they said.",
    )
    assert withdrawal.effective_at == withdrawal.published_at
    published_notice.refresh_from_db()
    assert published_notice.status == HandoverNotice.Status.WITHDRAWN
    assert services.apply_due_revisions(now=held.effective_at) == 0
    published_notice.refresh_from_db()
    assert published_notice.current_revision == withdrawal


def test_the_suspension_flag_stays_until_a_revision_drops_the_steward(
    caseworker, second_caseworker, published_notice
):
    services.mark_notices_naming_steward(
        handle="stella-ruiz", reason="Steward suspended", actor=caseworker
    )
    _amend(
        published_notice, caseworker, second_caseworker, project_name="published-lib"
    )
    published_notice.refresh_from_db()
    assert published_notice.needs_revision_since is not None
    _amend(
        published_notice,
        caseworker,
        second_caseworker,
        project_name="published-lib",
        stewards=parse_stewards("other | Other Steward"),
    )
    published_notice.refresh_from_db()
    assert published_notice.needs_revision_since is None


def test_a_revision_whose_content_no_longer_validates_is_refused_not_a_crash(
    draft_notice, second_caseworker
):
    revision = _awaiting(draft_notice)
    NoticeRevision.objects.filter(pk=revision.pk).update(
        content={**revision.content, "repository_url": "http://insecure.example"}
    )
    with pytest.raises(Refused, match="cannot be published as it stands"):
        services.approve_revision(revision=revision, actor=second_caseworker)
    assert _snapshot(draft_notice)[1] is None
