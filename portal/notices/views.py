from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from portal.accounts.access import caseworker_required
from portal.lib.errors import Refused
from portal.lib.http import client_ip
from portal.notices import services
from portal.notices.forms import SubscribeForm
from portal.notices.selectors import (
    get_published_notice,
    notices_awaiting_approval,
    published_notices,
)

PAGE_SIZE = 25


def notice_list(request):
    page = Paginator(published_notices(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "notices/notice_list.html",
        {"page": page, "subscribe_form": SubscribeForm()},
    )


def notice_detail(request, reference):
    return render(
        request,
        "notices/notice_detail.html",
        {"notice": get_published_notice(reference)},
    )


def subscribe(request):
    form = SubscribeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.request_subscription(
            email=form.cleaned_data["email"], source_ip=client_ip(request)
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
                "Your subscription is confirmed. You will receive every new notice.",
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


@caseworker_required
def review_list(request):
    return render(
        request, "notices/notice_review.html", {"notices": notices_awaiting_approval()}
    )


@caseworker_required
@require_POST
def approve(request, public_id):
    notice = get_object_or_404(notices_awaiting_approval(), public_id=public_id)
    try:
        notice = services.approve_notice(
            notice=notice, actor=request.user, source_ip=client_ip(request)
        )
    except Refused as exc:
        for message in exc.messages:
            messages.error(request, message)
        return render(
            request,
            "notices/notice_review.html",
            {"notices": notices_awaiting_approval()},
            status=400,
        )
    messages.success(
        request, f"{notice.reference} is published and on its way to subscribers."
    )
    return redirect("notices:detail", notice.reference)
