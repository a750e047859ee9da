from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal.accounts.access import caseworker_required
from portal.lib.errors import Refused
from portal.lib.http import client_ip
from portal.roster import access, selectors, services
from portal.roster.forms import (
    ApplyForm,
    ClearHoldForm,
    IdentityCheckForm,
    InvolvementForm,
    KeyForm,
    RosterFilterForm,
    VouchForm,
)

PAGE_SIZE = 50


# --- Stewards --------------------------------------------------------------------------------


@login_required
def apply(request):
    if access.own_profile(request.user) is not None:
        messages.info(request, "You have already applied; here is your profile.")
        return redirect("roster:me")
    form = ApplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.apply_as_steward(
                user=request.user,
                source_ip=client_ip(request),
                **form.service_kwargs(),
            )
        except Refused as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                "Your application is in. Next: a caseworker checks your identity, and two "
                "vetted stewards who know you vouch for you (send them the link below).",
            )
            return redirect("roster:me")
    status = 400 if request.method == "POST" else 200
    return render(request, "roster/steward_apply.html", {"form": form}, status=status)


def _me(request, profile, status=200, **forms):
    page = selectors.steward_page(profile)
    context = {
        "profile": profile,
        "now": timezone.now(),
        "vouch_url": request.build_absolute_uri(
            reverse("roster:vouch", args=[profile.public_id])
        ),
        "key_form": forms.get("key_form") or KeyForm(),
        "involvement_form": forms.get("involvement_form") or InvolvementForm(),
        **page,
    }
    return render(request, "roster/steward_me.html", context, status=status)


def _own_or_apply(request):
    profile = access.own_profile(request.user)
    if profile is None:
        messages.info(request, "You are not on the steward roster yet: apply here.")
    return profile


@login_required
def me(request):
    profile = _own_or_apply(request)
    if profile is None:
        return redirect("roster:apply")
    return _me(request, profile)


@login_required
@require_POST
def add_key(request):
    profile = _own_or_apply(request)
    if profile is None:
        return redirect("roster:apply")
    form = KeyForm(request.POST)
    if form.is_valid():
        try:
            key = services.add_signing_key(
                steward=profile,
                actor=request.user,
                public_key=form.cleaned_data["public_key"],
                source_ip=client_ip(request),
            )
        except Refused as exc:
            form.add_error("public_key", exc)
        else:
            messages.success(request, f"Key {key.fingerprint} added.")
            return redirect("roster:me")
    return _me(request, profile, status=400, key_form=form)


@login_required
@require_POST
def declare_involvement(request):
    profile = _own_or_apply(request)
    if profile is None:
        return redirect("roster:apply")
    form = InvolvementForm(request.POST)
    if form.is_valid():
        try:
            services.declare_involvement(
                steward=profile,
                actor=request.user,
                source_ip=client_ip(request),
                **form.service_kwargs(),
            )
        except Refused as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Your involvement is recorded.")
            return redirect("roster:me")
    return _me(request, profile, status=400, involvement_form=form)


@login_required
def vouch(request, public_id):
    voucher, vouchee = access.get_vouchee_for(request.user, public_id)
    form = VouchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.record_vouch(
                voucher=voucher,
                vouchee=vouchee,
                actor=request.user,
                statement=form.cleaned_data["statement"],
                source_ip=client_ip(request),
            )
        except Refused as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Your vouch for {vouchee.handle} is recorded.")
            return redirect("roster:me")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "vouchee": vouchee, "voucher": voucher}
    return render(request, "roster/steward_vouch.html", context, status=status)


# --- Caseworkers -----------------------------------------------------------------------------


@caseworker_required
def roster_list(request):
    form = RosterFilterForm(request.GET or None)
    valid = form.is_valid() if request.GET else True
    data = form.cleaned_data if request.GET and valid else {}
    rows = selectors.roster_for_caseworkers(
        show=data.get("show") or "", q=data.get("q") or ""
    )
    page = Paginator(rows, PAGE_SIZE).get_page(data.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "rejected": not valid,
        "page": page,
        "rows": list(page.object_list),
        "query": query.urlencode() if valid else "",
        "now": timezone.now(),
    }
    return render(
        request, "roster/steward_list.html", context, status=200 if valid else 400
    )


def _suspend_url(steward):
    # Suspension is a case-work service (it ends assignments and tells maintainers); its form
    # is shown only once that service's URL exists.
    try:
        return reverse("cases:suspend_steward", args=[steward.public_id])
    except NoReverseMatch:
        return None


def _detail(request, steward, status=200, **forms):
    context = {
        "steward": steward,
        "now": timezone.now(),
        "report": services.vetting_problems(steward=steward, actor=request.user),
        "check_form": forms.get("check_form") or IdentityCheckForm(),
        "hold_form": forms.get("hold_form") or ClearHoldForm(),
        "involvement_form": forms.get("involvement_form") or InvolvementForm(),
        "vet_errors": forms.get("vet_errors") or [],
        "suspend_url": _suspend_url(steward),
        **selectors.steward_page(steward),
    }
    return render(request, "roster/steward_detail.html", context, status=status)


@caseworker_required
def steward_detail(request, public_id):
    return _detail(request, access.get_steward_for_caseworker(public_id))


@caseworker_required
@require_POST
def record_identity_check(request, public_id):
    steward = access.get_steward_for_caseworker(public_id)
    form = IdentityCheckForm(request.POST)
    if form.is_valid():
        try:
            services.record_identity_check(
                steward=steward,
                actor=request.user,
                source_ip=client_ip(request),
                **form.cleaned_data,
            )
        except Refused as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                "Identity check recorded. Another caseworker must approve the vetting.",
            )
            return redirect("roster:detail", steward.public_id)
    return _detail(request, steward, status=400, check_form=form)


@caseworker_required
@require_POST
def vet(request, public_id):
    steward = access.get_steward_for_caseworker(public_id)
    try:
        steward = services.vet_steward(
            steward=steward, actor=request.user, source_ip=client_ip(request)
        )
    except Refused as exc:
        return _detail(request, steward, status=400, vet_errors=exc.messages)
    messages.success(
        request,
        f"{steward.handle} is vetted until {steward.vetting_expires_at:%Y-%m-%d}.",
    )
    return redirect("roster:detail", steward.public_id)


@caseworker_required
@require_POST
def clear_hold(request, public_id):
    steward = access.get_steward_for_caseworker(public_id)
    form = ClearHoldForm(request.POST)
    if form.is_valid():
        try:
            services.clear_hold(
                steward=steward,
                actor=request.user,
                note=form.cleaned_data["note"],
                source_ip=client_ip(request),
            )
        except Refused as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"The hold on {steward.handle} is cleared.")
            return redirect("roster:detail", steward.public_id)
    return _detail(request, steward, status=400, hold_form=form)


@caseworker_required
@require_POST
def record_involvement(request, public_id):
    steward = access.get_steward_for_caseworker(public_id)
    form = InvolvementForm(request.POST)
    if form.is_valid():
        try:
            services.declare_involvement(
                steward=steward,
                actor=request.user,
                source_ip=client_ip(request),
                **form.service_kwargs(),
            )
        except Refused as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Involvement recorded.")
            return redirect("roster:detail", steward.public_id)
    return _detail(request, steward, status=400, involvement_form=form)
