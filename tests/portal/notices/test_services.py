import datetime
import re
import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.lib.errors import Refused
from portal.notices import services
from portal.notices.models import Delivery, HandoverNotice, Subscription
from portal.notices.tokens import make_confirm_token, make_unsubscribe_token
from tests.factories import SubscriptionFactory
from tests.portal.notices.conftest import draft, publish

pytestmark = pytest.mark.django_db

DRAFTER_REFUSAL = "You drafted this notice; another caseworker must approve it."


def _year() -> int:
    return timezone.now().year


def _snapshot(notice):
    """Everything an approval may write, so a refusal can be shown to have written nothing."""
    notice.refresh_from_db()
    return (
        notice.status,
        notice.reference,
        notice.approved_by_id,
        notice.published_at,
        Delivery.objects.count(),
        AuditEvent.objects.count(),
    )


# --- draft_notice -----------------------------------------------------------------------------


def test_caseworker_drafts_a_notice_awaiting_approval(caseworker):
    notice = draft(caseworker)
    assert notice.status == HandoverNotice.Status.AWAITING_APPROVAL
    assert notice.reference is None
    assert notice.approved_by is None
    assert notice.drafted_by == caseworker
    assert (
        AuditEvent.objects.filter(
            action="notice.drafted", object_id=str(notice.public_id), actor=caseworker
        ).count()
        == 1
    )


@pytest.mark.parametrize("role", ["maintainer", "steward", "stranger"])
def test_non_caseworker_cannot_draft_a_notice(request, role):
    person = request.getfixturevalue(role)
    with pytest.raises(Refused, match="Only caseworkers draft"):
        draft(person)
    assert HandoverNotice.objects.count() == 0
    assert not AuditEvent.objects.filter(action="notice.drafted").exists()


def test_draft_with_an_end_before_its_start_is_refused(caseworker):
    with pytest.raises(Refused, match="end of the window is before its start"):
        draft(
            caseworker,
            window_start=datetime.date(2026, 12, 1),
            window_end=datetime.date(2026, 11, 30),
        )
    assert HandoverNotice.objects.count() == 0


def test_window_may_end_on_its_start_day_or_stay_open(caseworker):
    same_day = draft(
        caseworker,
        window_start=datetime.date(2026, 12, 1),
        window_end=datetime.date(2026, 12, 1),
    )
    open_end = draft(caseworker, window_end=None)
    assert same_day.window_end == same_day.window_start
    assert open_end.window_end is None


# --- approve_notice ---------------------------------------------------------------------------


def test_drafter_cannot_approve_and_nothing_changes(draft_notice, caseworker):
    SubscriptionFactory.create_batch(2)
    before = _snapshot(draft_notice)
    with pytest.raises(Refused, match=re.escape(DRAFTER_REFUSAL)):
        services.approve_notice(notice=draft_notice, actor=caseworker)
    assert _snapshot(draft_notice) == before
    assert draft_notice.status == HandoverNotice.Status.AWAITING_APPROVAL
    assert draft_notice.reference is None
    assert not Delivery.objects.exists()


@pytest.mark.parametrize("role", ["maintainer", "steward", "stranger"])
def test_non_caseworker_cannot_approve(request, role, draft_notice):
    SubscriptionFactory()
    before = _snapshot(draft_notice)
    with pytest.raises(Refused, match="Only caseworkers approve"):
        services.approve_notice(
            notice=draft_notice, actor=request.getfixturevalue(role)
        )
    assert _snapshot(draft_notice) == before


def test_second_caseworker_publishes_with_yearly_references(
    caseworker, second_caseworker
):
    first = publish(caseworker, second_caseworker, project_name="first")
    second = publish(caseworker, second_caseworker, project_name="second")
    year = _year()
    assert (first.reference, second.reference) == (f"HN-{year}-0001", f"HN-{year}-0002")
    first.refresh_from_db()
    assert first.status == HandoverNotice.Status.PUBLISHED
    assert first.approved_by == second_caseworker
    assert first.published_at is not None
    assert (
        AuditEvent.objects.filter(
            action="notice.approved",
            object_id=str(first.public_id),
            actor=second_caseworker,
        ).count()
        == 1
    )


def test_reference_counter_restarts_each_year(caseworker, second_caseworker):
    # A notice from an earlier year, written as the service would have written it then.
    old = draft(caseworker, project_name="old")
    HandoverNotice.objects.filter(pk=old.pk).update(
        reference="HN-2020-0042",
        status=HandoverNotice.Status.PUBLISHED,
        approved_by=second_caseworker,
        published_at=timezone.now() - datetime.timedelta(days=365 * 5),
    )
    notice = publish(caseworker, second_caseworker, project_name="new")
    assert notice.reference == f"HN-{_year()}-0001"


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_approvals_never_share_a_reference(caseworker, second_caseworker):
    first, second = (
        draft(caseworker, project_name="first"),
        draft(caseworker, project_name="second"),
    )
    outcome = {}

    def approve_second():
        try:
            outcome["reference"] = services.approve_notice(
                notice=second, actor=second_caseworker
            ).reference
        except Exception as exc:  # noqa: BLE001 - reported to the test thread
            outcome["error"] = exc
        finally:
            connection.close()

    other = threading.Thread(target=approve_second)
    with transaction.atomic():
        services.approve_notice(notice=first, actor=second_caseworker)
        other.start()
        other.join(timeout=1)
        assert other.is_alive(), "the second approval must wait for the first to commit"
    other.join(timeout=10)
    assert not other.is_alive()
    assert outcome == {"reference": f"HN-{_year()}-0002"}
    first.refresh_from_db()
    assert first.reference == f"HN-{_year()}-0001"


def test_approving_twice_is_refused(published_notice, unassigned_caseworker):
    SubscriptionFactory()
    before = _snapshot(published_notice)
    with pytest.raises(Refused, match="already been published"):
        services.approve_notice(notice=published_notice, actor=unassigned_caseworker)
    assert _snapshot(published_notice) == before
    assert published_notice.approved_by_id != unassigned_caseworker.pk


def test_database_refuses_approval_by_the_drafter_even_without_the_service(
    draft_notice, caseworker, second_caseworker
):
    with transaction.atomic(), pytest.raises(IntegrityError):
        HandoverNotice.objects.filter(pk=draft_notice.pk).update(approved_by=caseworker)
    draft_notice.refresh_from_db()
    assert draft_notice.approved_by is None
    # The same write naming someone else is accepted: the constraint, not the write, refused.
    HandoverNotice.objects.filter(pk=draft_notice.pk).update(
        approved_by=second_caseworker
    )
    draft_notice.refresh_from_db()
    assert draft_notice.approved_by == second_caseworker


def test_approval_writes_one_delivery_per_active_subscription(
    draft_notice, second_caseworker, django_capture_on_commit_callbacks
):
    active = SubscriptionFactory.create_batch(3)
    SubscriptionFactory(status=Subscription.Status.PENDING)
    SubscriptionFactory(
        status=Subscription.Status.UNSUBSCRIBED, unsubscribed_at=timezone.now()
    )
    with django_capture_on_commit_callbacks() as callbacks:
        notice = services.approve_notice(notice=draft_notice, actor=second_caseworker)
        # Written before the transaction commits, so the dispatch task always finds them.
        assert sorted(
            Delivery.objects.filter(notice=notice).values_list(
                "subscription_id", flat=True
            )
        ) == sorted(s.pk for s in active)
    assert set(Delivery.objects.values_list("status", flat=True)) == {
        Delivery.Status.PENDING
    }
    assert len(callbacks) == 1  # the dispatch task, queued only after commit


def test_approval_and_its_deliveries_commit_or_fail_together(
    draft_notice, second_caseworker
):
    subscription = SubscriptionFactory()
    SubscriptionFactory()
    # A row the outbox write will collide with: the approval must not survive the failure.
    Delivery.objects.create(subscription=subscription, notice=draft_notice)
    with pytest.raises(IntegrityError):
        services.approve_notice(notice=draft_notice, actor=second_caseworker)
    draft_notice.refresh_from_db()
    assert draft_notice.status == HandoverNotice.Status.AWAITING_APPROVAL
    assert draft_notice.reference is None
    assert draft_notice.approved_by is None
    assert Delivery.objects.count() == 1
    assert not AuditEvent.objects.filter(action="notice.approved").exists()


def test_a_subscription_gets_at_most_one_delivery_per_notice(published_notice):
    subscription = SubscriptionFactory()
    Delivery.objects.create(subscription=subscription, notice=published_notice)
    with transaction.atomic(), pytest.raises(IntegrityError):
        Delivery.objects.create(subscription=subscription, notice=published_notice)
    assert Delivery.objects.filter(subscription=subscription).count() == 1


# --- request_subscription ---------------------------------------------------------------------


def test_request_subscription_creates_a_pending_row_and_mails_after_commit(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as callbacks:
        subscription = services.request_subscription(email="  Reader@Example.NET ")
    assert subscription.status == Subscription.Status.PENDING
    assert subscription.email == "reader@example.net"
    assert subscription.confirmed_at is None
    assert len(callbacks) == 1
    assert AuditEvent.objects.filter(action="subscription.requested").count() == 1


def test_request_for_an_active_address_creates_nothing_and_sends_nothing(
    django_capture_on_commit_callbacks,
):
    active = SubscriptionFactory(
        email="reader@example.net", confirmed_at=timezone.now()
    )
    with django_capture_on_commit_callbacks() as callbacks:
        result = services.request_subscription(email="Reader@example.net")
    assert result is None
    assert list(Subscription.objects.values_list("pk", "status")) == [
        (active.pk, Subscription.Status.ACTIVE)
    ]
    assert callbacks == []
    assert not AuditEvent.objects.exists()


def test_request_for_a_pending_address_resends_without_a_new_row(
    django_capture_on_commit_callbacks,
):
    first = services.request_subscription(email="reader@example.net")
    Subscription.objects.filter(pk=first.pk).update(
        confirmation_sent_at=timezone.now() - services.CONFIRMATION_RESEND_INTERVAL
    )
    with django_capture_on_commit_callbacks() as callbacks:
        again = services.request_subscription(email="reader@example.net")
    assert again.pk == first.pk
    assert Subscription.objects.count() == 1
    assert len(callbacks) == 1


def test_repeated_requests_within_the_interval_send_no_more_mail(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as callbacks:
        services.request_subscription(email="reader@example.net")
        services.request_subscription(email="reader@example.net")
        services.request_subscription(email="READER@example.net")
    assert len(callbacks) == 1
    assert Subscription.objects.count() == 1


def test_stale_claims_are_requeued_and_fresh_ones_left_alone(
    caseworker, second_caseworker
):
    SubscriptionFactory.create_batch(2)
    notice = publish(caseworker, second_caseworker)
    stale, fresh = Delivery.objects.filter(notice=notice).order_by("pk")
    assert services.claim_delivery(stale.pk) and services.claim_delivery(fresh.pk)
    Delivery.objects.filter(pk=stale.pk).update(
        claimed_at=timezone.now()
        - services.STALE_CLAIM_AFTER
        - datetime.timedelta(seconds=1)
    )
    assert services.requeue_stale_deliveries() == [stale.pk]
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.status, fresh.status) == (
        Delivery.Status.PENDING,
        Delivery.Status.SENDING,
    )
    # The requeued row can be claimed again, exactly once.
    assert services.claim_delivery(stale.pk)
    assert not services.claim_delivery(stale.pk)


def test_an_unsubscribed_address_can_subscribe_again():
    old = SubscriptionFactory(email="reader@example.net")
    services.unsubscribe(token=make_unsubscribe_token(old))
    new = services.request_subscription(email="reader@example.net")
    assert new.pk != old.pk
    assert new.status == Subscription.Status.PENDING


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_first_requests_for_one_address_both_answer():
    outcome = {}

    def request_again():
        try:
            outcome["subscription"] = services.request_subscription(
                email="reader@example.net"
            )
        except Exception as exc:  # noqa: BLE001 - reported to the test thread
            outcome["error"] = exc
        finally:
            connection.close()

    other = threading.Thread(target=request_again)
    with transaction.atomic():
        services.request_subscription(email="reader@example.net")
        other.start()
        other.join(timeout=1)
    other.join(timeout=10)
    assert "error" not in outcome, outcome
    assert Subscription.objects.count() == 1


# --- confirm_subscription ---------------------------------------------------------------------


@pytest.fixture
def pending():
    return SubscriptionFactory(status=Subscription.Status.PENDING)


def test_valid_confirmation_token_activates(pending):
    subscription = services.confirm_subscription(token=make_confirm_token(pending))
    pending.refresh_from_db()
    assert subscription.pk == pending.pk
    assert pending.status == Subscription.Status.ACTIVE
    assert pending.confirmed_at is not None
    assert (
        AuditEvent.objects.filter(
            action="subscription.confirmed", object_id=str(pending.public_id)
        ).count()
        == 1
    )


def test_reused_confirmation_token_is_refused_and_changes_nothing(pending):
    token = make_confirm_token(pending)
    services.confirm_subscription(token=token)
    pending.refresh_from_db()
    confirmed_at = pending.confirmed_at
    with pytest.raises(Refused, match="already been used"):
        services.confirm_subscription(token=token)
    pending.refresh_from_db()
    assert pending.status == Subscription.Status.ACTIVE
    assert pending.confirmed_at == confirmed_at
    assert AuditEvent.objects.filter(action="subscription.confirmed").count() == 1


def test_expired_confirmation_token_is_refused(pending, settings):
    token = make_confirm_token(pending)
    # Every link is now older than the age allowed.
    settings.SUBSCRIPTION_CONFIRM_MAX_AGE = -1
    with pytest.raises(Refused, match="expired"):
        services.confirm_subscription(token=token)
    pending.refresh_from_db()
    assert pending.status == Subscription.Status.PENDING
    assert pending.confirmed_at is None


def test_confirmation_token_pointed_at_another_subscription_is_refused(pending):
    victim = SubscriptionFactory(status=Subscription.Status.PENDING)
    mine = make_confirm_token(pending)
    theirs = make_confirm_token(victim)
    # Keep my signature, swap in their payload.
    forged = theirs.split(":", 1)[0] + ":" + mine.split(":", 1)[1]
    assert forged not in (mine, theirs)
    with pytest.raises(Refused, match="not valid"):
        services.confirm_subscription(token=forged)
    with pytest.raises(Refused, match="not valid"):
        services.confirm_subscription(
            token=mine[:-1] + ("A" if mine[-1] != "A" else "B")
        )
    assert set(Subscription.objects.values_list("status", flat=True)) == {
        Subscription.Status.PENDING
    }


def test_unsubscribe_token_does_not_confirm(pending):
    with pytest.raises(Refused, match="not valid"):
        services.confirm_subscription(token=make_unsubscribe_token(pending))
    pending.refresh_from_db()
    assert pending.status == Subscription.Status.PENDING


# --- unsubscribe ------------------------------------------------------------------------------


def test_unsubscribe_is_idempotent_and_stops_pending_mail(
    caseworker, second_caseworker
):
    subscription = SubscriptionFactory()
    bystander = SubscriptionFactory()
    sent_notice = publish(caseworker, second_caseworker, project_name="sent")
    Delivery.objects.filter(notice=sent_notice).update(status=Delivery.Status.SENT)
    pending_notice = publish(caseworker, second_caseworker, project_name="pending")
    token = make_unsubscribe_token(subscription)

    services.unsubscribe(token=token)
    subscription.refresh_from_db()
    unsubscribed_at = subscription.unsubscribed_at
    assert subscription.status == Subscription.Status.UNSUBSCRIBED
    assert unsubscribed_at is not None
    mine = dict(subscription.deliveries.values_list("notice_id", "status"))
    assert mine == {
        sent_notice.pk: Delivery.Status.SENT,
        pending_notice.pk: Delivery.Status.FAILED,
    }
    assert (
        subscription.deliveries.get(notice=pending_notice).last_error
        == "unsubscribed before sending"
    )
    assert (
        bystander.deliveries.get(notice=pending_notice).status
        == Delivery.Status.PENDING
    )

    again = services.unsubscribe(token=token)
    subscription.refresh_from_db()
    assert again.pk == subscription.pk
    assert subscription.unsubscribed_at == unsubscribed_at
    assert AuditEvent.objects.filter(action="subscription.cancelled").count() == 1


def test_tampered_unsubscribe_token_is_refused():
    subscription = SubscriptionFactory()
    token = make_unsubscribe_token(subscription)
    with pytest.raises(Refused, match="not valid"):
        services.unsubscribe(token=token[:-1] + ("A" if token[-1] != "A" else "B"))
    with pytest.raises(Refused, match="not valid"):
        services.unsubscribe(token=make_confirm_token(subscription))
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE


# --- the outbox -------------------------------------------------------------------------------


def test_a_delivery_is_claimed_exactly_once(published_notice):
    delivery = Delivery.objects.create(
        subscription=SubscriptionFactory(), notice=published_notice
    )
    assert services.claim_delivery(delivery.pk) is True
    assert services.claim_delivery(delivery.pk) is False
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENDING
    services.finish_delivery(delivery_id=delivery.pk)
    assert services.claim_delivery(delivery.pk) is False
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    assert delivery.sent_at is not None
