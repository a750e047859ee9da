"""Mail about the roster. Roster mail carries roster facts only (handle, dates), never case data."""

import functools

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from portal.accounts.models import User
from portal.accounts.roles import CASEWORKER
from portal.roster.models import StewardProfile

EXPIRY_REMINDER = "expiry_reminder"


def expiry_reminder_recipients(steward: StewardProfile) -> list[int]:
    """The steward and every active caseworker."""
    caseworkers = User.objects.filter(groups__name=CASEWORKER, is_active=True).exclude(
        email=""
    )
    ids = set(caseworkers.values_list("pk", flat=True))
    if steward.user.is_active and steward.user.email:
        ids.add(steward.user_id)
    return sorted(ids)


def queue_expiry_reminder(*, steward_id: int) -> None:
    """After commit, one mail task per recipient, so a retried send repeats only its own mail."""
    from portal.roster.tasks import send_roster_mail_task

    steward = StewardProfile.objects.select_related("user").get(pk=steward_id)
    for user_id in expiry_reminder_recipients(steward):
        transaction.on_commit(
            functools.partial(
                send_roster_mail_task.delay, EXPIRY_REMINDER, steward_id, user_id
            )
        )


def roster_email(
    *, kind: str, steward_id: int, user_id: int
) -> EmailMultiAlternatives | None:
    """The mail for one person, or None if it should no longer go out (person gone, or the
    steward was re-vetted, suspended or already expired before the send)."""
    if kind != EXPIRY_REMINDER:
        raise ValueError(f"unknown roster mail {kind!r}")
    user = User.objects.filter(pk=user_id, is_active=True).exclude(email="").first()
    steward = StewardProfile.objects.filter(pk=steward_id).first()
    if user is None or steward is None:
        return None
    if (
        steward.status != StewardProfile.Status.VETTED
        or steward.expiry_reminder_sent_at is None
        or steward.vetting_expires_at <= timezone.now()
    ):
        return None
    is_steward = user.pk == steward.user_id
    path = (
        reverse("roster:me")
        if is_steward
        else reverse("roster:detail", args=[steward.public_id])
    )
    context = {
        "handle": steward.handle,
        "expires_at": steward.vetting_expires_at,
        "is_steward": is_steward,
        "url": f"{settings.SITE_URL}{path}",
    }
    name = f"roster/emails/{kind}"
    subject = " ".join(render_to_string(f"{name}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{name}_body.txt", context),
        to=[user.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(
        render_to_string(f"{name}_body.html", context), "text/html"
    )
    return message
