from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from cases import access, selectors, services
from cases.forms import (
    AssignColleagueForm,
    AttachmentForm,
    CaseForm,
    CoMaintainerForm,
    ConflictForm,
    MessageForm,
    QueueFilterForm,
    StatusForm,
)
from cases.models import CaseworkerConflict
from cases.states import FINAL, Status
from portal.accounts.access import caseworker_required
from portal.audit.selectors import events_for_case, reads_by_foundation
from portal.lib.errors import Refused
from portal.lib.http import client_ip
from portal.notices.forms import NoticeContentForm


@login_required
def case_list(request):
    return render(
        request,
        "cases/case_list.html",
        {"cases": selectors.case_list_for(request.user)},
    )


@login_required
@sensitive_post_parameters()
def case_create(request):
    form = CaseForm(request.POST or None, user=request.user)
    if not form.fields["project"].queryset.exists():
        messages.info(request, "First register the project your case is about.")
        return redirect("projects:create")
    if request.method == "POST" and form.is_valid():
        try:
            case = services.open_case(
                actor=request.user, source_ip=client_ip(request), **form.cleaned_data
            )
        except Refused as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, "Your case is open. A caseworker will answer you here."
            )
            return redirect("cases:detail", case.public_id)
    status = 400 if request.method == "POST" else 200
    return render(request, "cases/case_form.html", {"form": form}, status=status)


def _detail(request, case, status=200, **forms):
    """Render the case page. Every render shows the case's words, so every render is audited,
    including a form re-shown after a refusal."""
    user = request.user
    services.record_case_viewed(case=case, actor=user, source_ip=client_ip(request))
    may_work = access.can(user, "work", case)
    is_maintainer = access.can(user, "maintain", case)
    context = {
        "case": case,
        "may_work": may_work,
        "is_case_maintainer": is_maintainer,
        "is_open": case.status not in FINAL,
        "narrative": selectors.narrative_of(case),
        "conversation": selectors.messages_for(user, case),
        "attachments": selectors.attachments_for(user, case),
        "timeline": case.events.select_related("actor"),
        "caseworkers": case.caseworkers.all(),
        "access_log": _access_log(case, may_work=may_work, is_maintainer=is_maintainer),
        "handovers": case.handovers.select_related("notice") if may_work else [],
        "consent_requests": services.consent_requests(case) if is_maintainer else [],
        "objection_days": settings.NOTICE_OBJECTION_DAYS,
        "message_form": forms.get("message_form") or MessageForm(),
        "attachment_form": forms.get("attachment_form") or AttachmentForm(),
        "status_form": forms.get("status_form")
        or (StatusForm(current=case.status) if may_work else None),
        "colleague_form": forms.get("colleague_form")
        or (AssignColleagueForm(case=case) if may_work else None),
        "co_maintainer_form": forms.get("co_maintainer_form")
        or (CoMaintainerForm() if is_maintainer else None),
    }
    return render(request, "cases/case_detail.html", context, status=status)


ACCESS_LOG_ROWS = 50


def _access_log(case, *, may_work: bool, is_maintainer: bool):
    """Caseworkers see every event on the case; maintainers see who from the foundation read it."""
    if may_work:
        return events_for_case(case.public_id)[:ACCESS_LOG_ROWS]
    if is_maintainer:
        maintainer_ids = [
            case.opened_by_id,
            *case.co_maintainers.values_list("pk", flat=True),
        ]
        return reads_by_foundation(case.public_id, maintainer_ids)[:ACCESS_LOG_ROWS]
    return []


def _refused(request, exc):
    for message in exc.messages:
        messages.error(request, message)


@login_required
def case_detail(request, public_id):
    case = access.get_case_for(request.user, public_id)
    return _detail(request, case)


@login_required
@require_POST
@sensitive_post_parameters()
def post_message(request, public_id):
    case = access.get_case_for(request.user, public_id)
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            services.post_message(
                case=case,
                actor=request.user,
                body=form.cleaned_data["body"],
                internal=form.cleaned_data["internal"],
                source_ip=client_ip(request),
            )
        except Refused as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                "Note added." if form.cleaned_data["internal"] else "Message sent.",
            )
            return redirect("cases:detail", case.public_id)
    return _detail(request, case, message_form=form, status=400)


@login_required
@require_POST
def add_attachment(request, public_id):
    case = access.get_case_for(request.user, public_id)
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            services.add_attachment(
                case=case,
                actor=request.user,
                name=upload.name,
                data=upload.read(),
                internal=form.cleaned_data["internal"],
                source_ip=client_ip(request),
            )
        except Refused as exc:
            form.add_error("file", exc)
        else:
            messages.success(request, "File attached.")
            return redirect("cases:detail", case.public_id)
    return _detail(request, case, attachment_form=form, status=400)


@login_required
def download_attachment(request, public_id, attachment_id):
    attachment = access.get_attachment_for(request.user, public_id, attachment_id)
    try:
        name, content_type, data = services.read_attachment(
            attachment=attachment, actor=request.user, source_ip=client_ip(request)
        )
    except Refused as exc:
        _refused(request, exc)
        return redirect("cases:detail", public_id)
    # SECURITY: always a download, never rendered in the portal's origin.
    response = HttpResponse(data, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=name
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@login_required
@require_POST
def change_status(request, public_id):
    case = access.get_case_for(request.user, public_id, perm=access.WORK)
    form = StatusForm(request.POST, current=case.status)
    if form.is_valid():
        try:
            case = services.change_status(
                case=case,
                actor=request.user,
                to_status=form.cleaned_data["status"],
                source_ip=client_ip(request),
            )
        except Refused as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"The case is now “{case.get_status_display()}”.")
            return redirect("cases:detail", case.public_id)
    return _detail(request, case, status_form=form, status=400)


@login_required
@require_POST
def assign_colleague(request, public_id):
    case = access.get_case_for(request.user, public_id, perm=access.WORK)
    form = AssignColleagueForm(request.POST, case=case)
    if form.is_valid():
        colleague = form.cleaned_data["caseworker"]
        try:
            services.assign_caseworker(
                case=case,
                caseworker=colleague,
                actor=request.user,
                source_ip=client_ip(request),
            )
        except Refused as exc:
            form.add_error("caseworker", exc)
        else:
            messages.success(request, f"{colleague} is now assigned to the case.")
            return redirect("cases:detail", case.public_id)
    return _detail(request, case, colleague_form=form, status=400)


@login_required
@require_POST
def unassign_self(request, public_id):
    case = access.get_case_for(request.user, public_id, perm=access.WORK)
    try:
        services.unassign_caseworker(
            case=case,
            caseworker=request.user,
            actor=request.user,
            source_ip=client_ip(request),
        )
    except Refused as exc:
        _refused(request, exc)
        return redirect("cases:detail", case.public_id)
    messages.success(request, "You are no longer assigned to the case.")
    return redirect("cases:queue")


@login_required
@require_POST
@sensitive_post_parameters()
def add_co_maintainer(request, public_id):
    case = access.get_case_for(request.user, public_id)
    if not access.can(request.user, "maintain", case):
        raise PermissionDenied(
            "Only the maintainers on this case can add a co-maintainer."
        )
    form = CoMaintainerForm(request.POST)
    if form.is_valid():
        try:
            person = services.add_co_maintainer(
                case=case,
                actor=request.user,
                email=form.cleaned_data["email"],
                source_ip=client_ip(request),
            )
        except Refused as exc:
            form.add_error("email", exc)
        else:
            messages.success(request, f"{person} can now read and write on this case.")
            return redirect("cases:detail", case.public_id)
    return _detail(request, case, co_maintainer_form=form, status=400)


@login_required
def withdraw(request, public_id):
    case = access.get_case_for(request.user, public_id)
    if not access.can(request.user, "maintain", case):
        raise PermissionDenied("Only the maintainers on this case can withdraw it.")
    if case.status == Status.WITHDRAWN:
        messages.info(request, "This case is already withdrawn.")
        return redirect("cases:detail", case.public_id)
    if request.method == "POST":
        try:
            services.withdraw_case(
                case=case, actor=request.user, source_ip=client_ip(request)
            )
        except Refused as exc:
            _refused(request, exc)
        else:
            messages.success(
                request,
                "Your case is withdrawn and everything you wrote in it is erased.",
            )
        return redirect("cases:detail", case.public_id)
    return render(request, "cases/case_withdraw.html", {"case": case})


@caseworker_required
def queue(request):
    form = QueueFilterForm(request.GET or None, user=request.user)
    rejected = form.is_bound and not form.is_valid()
    page = selectors.triage_queue_page_for(request.user, **form.queue_filters())
    context = {
        "form": form,
        "rejected": rejected,
        "page": page,
        "rows": page.object_list,
        "query": form.querystring(),
        "now": timezone.now(),
    }
    return render(
        request, "cases/case_queue.html", context, status=400 if rejected else 200
    )


@caseworker_required
@require_POST
def assign_self(request, public_id):
    case = access.get_unassigned_case_for(request.user, public_id)
    try:
        services.assign_caseworker(
            case=case,
            caseworker=request.user,
            actor=request.user,
            source_ip=client_ip(request),
        )
    except Refused as exc:
        _refused(request, exc)
        return redirect("cases:queue")
    messages.success(request, "The case is assigned to you.")
    return redirect("cases:detail", case.public_id)


@caseworker_required
def conflicts(request):
    form = ConflictForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.declare_conflict(
                actor=request.user, source_ip=client_ip(request), **form.cleaned_data
            )
        except Refused as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                "Conflict declared: you will not be assigned to that project's cases.",
            )
            return redirect("cases:conflicts")
    declared = CaseworkerConflict.objects.filter(
        caseworker=request.user
    ).select_related("project")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "cases/conflict_list.html",
        {"form": form, "declared": declared},
        status=status,
    )


@caseworker_required
@require_POST
def withdraw_conflict(request, conflict_id):
    conflict = get_object_or_404(
        CaseworkerConflict, pk=conflict_id, caseworker=request.user
    )
    services.withdraw_conflict(
        actor=request.user, conflict=conflict, source_ip=client_ip(request)
    )
    messages.success(
        request, f"Your conflict with {conflict.project.name} is withdrawn."
    )
    return redirect("cases:conflicts")


@login_required
def draft_handover(request, public_id):
    case = access.get_case_for(request.user, public_id, perm=access.WORK)
    initial = {
        "project_name": case.project.name,
        "ecosystem": case.project.ecosystem,
        "repository_url": case.project.repository_url,
        "purls": "\n".join(case.project.purls),
    }
    form = NoticeContentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.draft_handover(
                case=case,
                actor=request.user,
                source_ip=client_ip(request),
                content=form.content,
            )
        except Refused as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                "The notice is drafted. A second caseworker must approve it before it is published.",
            )
            return redirect("cases:detail", case.public_id)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "cases/handover_form.html", {"case": case, "form": form}, status=status
    )


@login_required
@require_POST
def consent_to_revision(request, public_id, revision_id):
    case = access.get_case_for(request.user, public_id)
    try:
        services.consent_to_notice_revision(
            case=case,
            revision_public_id=revision_id,
            actor=request.user,
            source_ip=client_ip(request),
        )
    except Refused as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            "Your consent is recorded. When a second caseworker approves the revision it takes "
            "effect at once.",
        )
    return redirect("cases:detail", case.public_id)
