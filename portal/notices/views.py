import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from portal.accounts.access import caseworker_required
from portal.accounts.roles import is_caseworker
from portal.lib.errors import Refused
from portal.lib.http import client_ip
from portal.notices import selectors, services, signing
from portal.notices.content import NoticeContent
from portal.notices.forms import (
    ObjectionForm,
    RevisionForm,
    SubscribeForm,
    WebhookForm,
)
from portal.notices.markdown import render_guidance
from portal.notices.models import HandoverNotice, NoticeRevision
from portal.projects.models import Ecosystem

PAGE_SIZE = 25


def notice_list(request):
    status = request.GET.get("status", "")
    ecosystem = request.GET.get("ecosystem", "")
    query = request.GET.get("q", "").strip()[:120]
    if not query.isprintable():
        query = ""
    if status not in {"", *selectors.PUBLIC_STATUSES}:
        status = ""
    if ecosystem not in {"", *Ecosystem.values}:
        ecosystem = ""
    notices = selectors.filter_notices(
        selectors.published_notices(), status=status, ecosystem=ecosystem, query=query
    )
    page = Paginator(notices, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "notices/notice_list.html",
        {
            "page": page,
            "subscribe_form": SubscribeForm(),
            "status": status,
            "ecosystem": ecosystem,
            "query": query,
            "statuses": HandoverNotice.Status.choices[1:],
            "ecosystems": Ecosystem.choices,
            "signer_identity": settings.NOTICE_SIGNER_IDENTITY,
        },
    )


def _document(revision: NoticeRevision) -> dict:
    return json.loads(bytes(revision.document))


def notice_detail(request, reference):
    notice = selectors.get_published_notice(reference)
    revisions = list(selectors.published_revisions(notice))
    now = timezone.now()
    current = notice.current_revision
    shown = current or revisions[-1]
    doc = _document(shown)
    # Pending: published, not yet in effect, and not overtaken by a newer revision in effect.
    pending = [
        r
        for r in revisions
        if r.effective_at > now and (current is None or r.number > current.number)
    ]
    caseworker = is_caseworker(request.user)
    return render(
        request,
        "notices/notice_detail.html",
        {
            "notice": notice,
            "doc": doc,
            "in_effect": current is not None,
            "guidance_html": render_guidance(doc["guidance"]),
            "revisions": [(r, _document(r)) for r in reversed(revisions)],
            "pending": [(r, _document(r)) for r in pending if r != shown],
            "first_pending": None if current else shown,
            "objection_form": ObjectionForm() if pending else None,
            "pending_number": pending[-1].number if pending else None,
            "is_caseworker": caseworker,
            "signer_identity": settings.NOTICE_SIGNER_IDENTITY,
            "awaiting": (
                notice.revisions.filter(
                    state=NoticeRevision.State.AWAITING_APPROVAL
                ).first()
                if caseworker
                else None
            ),
        },
    )


@require_GET
def revision_document(request, reference, number):
    """The signed bytes themselves: what the signature, the log, the API and webhooks carry."""
    revision = selectors.get_published_revision(reference, number)
    response = HttpResponse(bytes(revision.document), content_type="application/json")
    response["Content-Disposition"] = (
        f'inline; filename="{reference}-r{revision.number}.json"'
    )
    response["Link"] = f'<{request.path}.sig>; rel="signature"'
    return response


@require_GET
def revision_signature(request, reference, number):
    revision = selectors.get_published_revision(reference, number)
    response = HttpResponse(
        revision.signature, content_type="text/plain; charset=utf-8"
    )
    response["Content-Disposition"] = (
        f'inline; filename="{reference}-r{revision.number}.json.sig"'
    )
    return response


@require_GET
def allowed_signers(request):
    return HttpResponse(
        signing.allowed_signers_file(), content_type="text/plain; charset=utf-8"
    )


@require_POST
def object_to_revision(request, reference, number):
    revision = selectors.get_published_revision(reference, number)
    form = ObjectionForm(request.POST)
    if form.is_valid():
        try:
            services.object_to_revision(
                revision=revision, source_ip=client_ip(request), **form.cleaned_data
            )
        except Refused as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                "Your objection is recorded and the foundation's caseworkers have been told.",
            )
            return redirect("notices:detail", reference)
    for error in form.errors.values():
        for message in error:
            messages.error(request, message)
    return redirect("notices:detail", reference)


def subscribe(request):
    form = SubscribeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.request_subscription(
            email=form.cleaned_data["email"],
            filter_kind=form.cleaned_data["filter_kind"],
            filter_value=form.cleaned_data["filter_value"],
            source_ip=client_ip(request),
        )
        messages.success(
            request,
            "Check your inbox: we sent a confirmation link (unless this address is already subscribed).",
        )
        return redirect("notices:list")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "notices/subscription_form.html", {"form": form}, status=status
    )


def confirm_subscription(request, token):
    # GET only shows a button: mail scanners follow links, and a GET must not change anything.
    try:
        subscription = services.find_subscription_to_confirm(token)
        if request.method == "POST":
            subscription = services.confirm_subscription(
                token=token, source_ip=client_ip(request)
            )
            messages.success(
                request,
                "Your subscription is confirmed. You will receive every new notice it covers.",
            )
            return redirect("notices:list")
    except Refused as exc:
        return render(
            request,
            "notices/subscription_link_error.html",
            {"errors": exc.messages},
            status=400,
        )
    return render(
        request, "notices/subscription_confirm.html", {"subscription": subscription}
    )


@csrf_exempt  # SECURITY: RFC 8058 one-click POSTs come from mail providers; the signed token is the credential.
def unsubscribe(request, token):
    try:
        subscription = services.find_subscription_to_cancel(token)
        if request.method == "POST":
            services.unsubscribe(token=token, source_ip=client_ip(request))
            return render(request, "notices/subscription_cancelled.html")
    except Refused as exc:
        return render(
            request,
            "notices/subscription_link_error.html",
            {"errors": exc.messages},
            status=400,
        )
    return render(
        request, "notices/subscription_unsubscribe.html", {"subscription": subscription}
    )


# --- Caseworkers: revisions and the four-eyes review ------------------------------------------
@caseworker_required
def review_list(request, status=200):
    revisions = list(selectors.revisions_awaiting_approval())
    for revision in revisions:
        # What approving would change, and whether it would wait out the objection period.
        revision.preview = services.approval_preview(revision)
    return render(
        request,
        "notices/notice_review.html",
        {
            "revisions": revisions,
            "objection_days": settings.NOTICE_OBJECTION_DAYS,
            "objections": selectors.open_objections(),
        },
        status=status,
    )


@caseworker_required
@require_POST
def approve(request, public_id):
    revision = get_object_or_404(
        selectors.revisions_awaiting_approval(), public_id=public_id
    )
    try:
        revision = services.approve_revision(
            revision=revision, actor=request.user, source_ip=client_ip(request)
        )
    except Refused as exc:
        for message in exc.messages:
            messages.error(request, message)
        return review_list(request, status=400)
    reference = revision.notice.reference
    if revision.effective_at > revision.published_at:
        messages.success(
            request,
            f"{reference} revision {revision.number} is published and signed. It adds a "
            "steward, key or release channel without the maintainer's recorded consent, so it "
            f"takes effect on {revision.effective_at:%Y-%m-%d} unless it is revised first.",
        )
    else:
        messages.success(
            request,
            f"{reference} revision {revision.number} is published, signed and on its way to "
            "subscribers.",
        )
    return redirect("notices:detail", reference)


@caseworker_required
@require_POST
def discard(request, public_id):
    revision = get_object_or_404(
        selectors.revisions_awaiting_approval(), public_id=public_id
    )
    try:
        services.discard_revision(
            revision=revision, actor=request.user, source_ip=client_ip(request)
        )
    except Refused as exc:
        for message in exc.messages:
            messages.error(request, message)
        return review_list(request, status=400)
    messages.success(request, "The proposed revision is discarded.")
    return redirect("notices:review")


@caseworker_required
def revise(request, reference):
    notice = selectors.get_published_notice(reference)
    # From the revision in effect: a pending change must not be carried along unseen.
    base = notice.current_revision or services.latest_published(notice)
    initial = RevisionForm.initial_from(NoticeContent.from_json(base.content))
    form = RevisionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.propose_revision(
                notice=notice,
                actor=request.user,
                kind=form.cleaned_data["kind"],
                content=form.content,
                source_ip=client_ip(request),
            )
        except Refused as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                "The revision is proposed. Another caseworker must approve it before it is "
                "published.",
            )
            return redirect("notices:detail", reference)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "notices/notice_revise.html",
        {"notice": notice, "form": form},
        status=status,
    )


# --- Signed-in subscribers: webhooks ----------------------------------------------------------
@login_required
def webhooks(request):
    form = WebhookForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                subscription, secret = services.create_webhook(
                    owner=request.user,
                    url=form.cleaned_data["url"].strip(),
                    filter_kind=form.cleaned_data["filter_kind"],
                    filter_value=form.cleaned_data["filter_value"],
                    source_ip=client_ip(request),
                )
            except Refused as exc:
                form.add_error("url", exc)
            else:
                return _secret_page(request, subscription, secret)
    return render(
        request,
        "notices/webhook_list.html",
        {"form": form, "webhooks": selectors.webhooks_of(request.user)},
        status=status,
    )


def _secret_page(request, subscription, secret, *, rotating=False):
    response = render(
        request,
        "notices/webhook_secret.html",
        {"subscription": subscription, "secret": secret, "rotating": rotating},
    )
    # SECURITY: the secret is shown once; no cache, proxy or back button may keep a copy.
    response["Cache-Control"] = "no-store"
    return response


@login_required
def webhook_detail(request, public_id):
    subscription = selectors.get_webhook_for(request.user, public_id)
    page = Paginator(selectors.deliveries_of(subscription), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "notices/webhook_detail.html",
        {"subscription": subscription, "page": page},
    )


_WEBHOOK_ACTIONS = {
    "rotate": services.rotate_webhook_secret,
    "retire": services.retire_old_secret,
    "remove": services.remove_webhook,
    "enable": services.enable_webhook,
}


@login_required
@require_POST
def webhook_action(request, public_id, action):
    subscription = selectors.get_webhook_for(request.user, public_id)
    service = _WEBHOOK_ACTIONS.get(action)
    if service is None:
        return redirect("notices:webhook", public_id)
    try:
        result = service(
            subscription=subscription, actor=request.user, source_ip=client_ip(request)
        )
    except Refused as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("notices:webhook", public_id)
    if action == "rotate":
        return _secret_page(request, subscription, result, rotating=True)
    done = {
        "retire": "The old secret is retired; only the new one signs from now on.",
        "remove": "The webhook is removed. Its delivery log stays here.",
        "enable": "The webhook is on again.",
    }
    messages.success(request, done[action])
    return redirect("notices:webhook", public_id)


@login_required
@require_POST
def redeliver(request, public_id):
    delivery = selectors.get_delivery_for(request.user, public_id)
    try:
        services.redeliver(
            delivery=delivery, actor=request.user, source_ip=client_ip(request)
        )
    except Refused as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request, "The delivery is queued again, with the same webhook-id."
        )
    return redirect("notices:webhook", delivery.subscription.public_id)
