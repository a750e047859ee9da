"""The mail Steady sends about notices. Only the published document ever reaches these templates."""

import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from portal.accounts.roles import CASEWORKER
from portal.notices.models import Delivery, Objection, Subscription
from portal.notices.tokens import make_confirm_token, make_unsubscribe_token


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _message(
    name: str,
    context: dict,
    to: list[str],
    headers: dict | None = None,
    connection=None,
) -> EmailMultiAlternatives:
    subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{name}_body.txt", context),
        to=to,
        headers=headers or {},
        connection=connection,
    )
    message.attach_alternative(
        render_to_string(f"emails/{name}_body.html", context), "text/html"
    )
    return message


def confirmation_email(subscription: Subscription) -> EmailMultiAlternatives:
    token = make_confirm_token(subscription)
    context = {
        "confirm_url": _absolute(reverse("notices:confirm", args=[token])),
        "max_age_days": settings.SUBSCRIPTION_CONFIRM_MAX_AGE // 86400,
        "subscription": subscription,
    }
    return _message("subscription_confirm", context, [subscription.email])


def notice_email(
    revision, subscription: Subscription, connection=None
) -> EmailMultiAlternatives:
    unsubscribe_url = _absolute(
        reverse("notices:unsubscribe", args=[make_unsubscribe_token(subscription)])
    )
    doc = json.loads(bytes(revision.document))
    context = {
        "doc": doc,
        "notice_url": _absolute(reverse("notices:detail", args=[doc["id"]])),
        "document_url": _absolute(
            reverse("notices:revision_document", args=[doc["id"], doc["revision"]])
        ),
        "unsubscribe_url": unsubscribe_url,
    }
    # RFC 8058: mail clients offer one-click unsubscribe by POSTing to this address.
    headers = {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return _message(
        "notice_published", context, [subscription.email], headers, connection
    )


def dead_webhook_email(delivery: Delivery) -> EmailMultiAlternatives:
    context = {
        "delivery": delivery,
        "reference": delivery.revision.notice.reference,
        "webhooks_url": _absolute(reverse("notices:webhooks")),
    }
    return _message("webhook_dead", context, [delivery.subscription.owner.email])


def objection_email(objection: Objection) -> EmailMultiAlternatives | None:
    """Tell every caseworker that a revision in its objection period drew an objection."""
    caseworkers = list(
        get_user_model()
        .objects.filter(groups__name=CASEWORKER, is_active=True)
        .values_list("email", flat=True)
    )
    if not caseworkers:
        return None
    revision = objection.revision
    context = {
        "reference": revision.notice.reference,
        "number": revision.number,
        "notice_url": _absolute(
            reverse("notices:detail", args=[revision.notice.reference])
        ),
    }
    return _message("notice_objection", context, caseworkers)
