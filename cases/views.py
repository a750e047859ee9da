from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
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
    ExtensionForm,
    HandoverReportForm,
    IdentityOfConcernForm,
    MessageForm,
    NoteForm,
    ProposeForm,
    QueueFilterForm,
    RespondForm,
    StatusForm,
    StewardRequestForm,
    SuspendForm,
)
from cases.matching import match_stewards
from cases.models import (
    AssignmentExtension,
    CaseworkerConflict,
    ConcernAlert,
    HandoverReport,
)
from cases.services.assignments import brief_of, report_of
from cases.states import FINAL, Status
from portal.accounts.access import caseworker_required
from portal.audit.selectors import events_for_case, reads_by_foundation
from portal.lib.errors import Refused
from portal.lib.http import client_ip
from portal.notices.forms import NoticeContentForm
from portal.roster.models import StewardProfile


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
    concerns, alerts = (
        selectors.identities_of_concern_for(case) if may_work else ([], [])
    )
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
        "steward_requests": selectors.steward_requests_for(case)
        if (may_work or is_maintainer)
        else [],
        "identities_of_concern": concerns,
        "concern_alerts": alerts,
        "identity_form": forms.get("identity_form")
        or (IdentityOfConcernForm() if may_work else None),
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


# --- Identities of concern ----------------------------------------------------------------


@login_required
@require_POST
def record_identity(request, public_id):
    case = access.get_case_for(request.user, public_id, perm=access.WORK)
    form = IdentityOfConcernForm(request.POST)
    if form.is_valid():
        try:
            services.record_identity_of_concern(
                case=case,
                actor=request.user,
                identity=form.cleaned_data["identity"],
                kind=form.cleaned_data["kind"],
                source_ip=client_ip(request),
            )
        except Refused as exc:
            form.add_error("identity", exc)
        else:
            messages.success(request, "Identity recorded. It is now watched for.")
            return redirect("cases:detail", case.public_id)
    return _detail(request, case, identity_form=form, status=400)


@login_required
@require_POST
def clear_alert(request, public_id, alert_id):
    case = access.get_case_for(request.user, public_id, perm=access.WORK)
    alert = get_object_or_404(ConcernAlert, case=case, public_id=alert_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.clear_identity_concern(
                alert=alert,
                actor=request.user,
                note=form.cleaned_data["note"],
                source_ip=client_ip(request),
            )
        except Refused as exc:
            form.add_error("note", exc)
        else:
            messages.success(request, "The identity is cleared.")
            return redirect("cases:detail", case.public_id)
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)
    return _detail(request, case, status=400)


# --- Steward requests and matching ----------------------------------------------------------


@login_required
@sensitive_post_parameters()
def request_steward(request, public_id):
    case = access.get_case_for(request.user, public_id)
    if not access.can(request.user, "maintain", case):
        raise PermissionDenied(
            "Only the maintainers on this case can ask for a steward."
        )
    initial = {"ecosystem": case.project.ecosystem}
    form = StewardRequestForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.request_steward(
                case=case,
                actor=request.user,
                source_ip=client_ip(request),
                **form.cleaned_data,
            )
        except Refused as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                "Your request is with your caseworker, who will propose a vetted steward.",
            )
            return redirect("cases:detail", case.public_id)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "cases/steward_request_form.html",
        {"case": case, "form": form},
        status=status,
    )


def _matching_page(request, steward_request, status=200, error=None):
    matches = match_stewards(steward_request)
    context = {
        "steward_request": steward_request,
        "case": steward_request.case,
        "brief": brief_of(steward_request),
        "matches": matches,
        # The latest few: a request has a handful of proposals, never a long list.
        "assignments": steward_request.assignments.select_related("steward")[:20],
        "error": error,
    }
    return render(request, "cases/steward_matching.html", context, status=status)


@login_required
def steward_matching(request, request_id):
    steward_request = access.get_steward_request_for(request.user, request_id)
    return _matching_page(request, steward_request)


@login_required
@require_POST
def propose_steward(request, request_id):
    steward_request = access.get_steward_request_for(request.user, request_id)
    form = ProposeForm(request.POST)
    steward = None
    if form.is_valid():
        steward = StewardProfile.objects.filter(
            public_id=form.cleaned_data["steward"]
        ).first()
    if steward is None:
        return _matching_page(
            request,
            steward_request,
            status=400,
            error="Choose a steward from the list.",
        )
    try:
        assignment = services.propose_assignment(
            request=steward_request,
            steward=steward,
            actor=request.user,
            source_ip=client_ip(request),
        )
    except Refused as exc:
        return _matching_page(
            request, steward_request, status=400, error=" ".join(exc.messages)
        )
    if assignment.is_blocked:
        messages.warning(
            request,
            f"{steward.handle} is proposed, but on hold: one of their identities is of "
            "concern. Clear it on the assignment before the maintainer can answer.",
        )
    else:
        messages.success(
            request,
            f"{steward.handle} is proposed; the maintainer will accept or decline.",
        )
    return redirect("cases:assignment", assignment.public_id)


# --- Assignments ------------------------------------------------------------------------------


def _assignment_page(request, assignment, status=200, **forms):
    user = request.user
    case = assignment.case
    may_work = access.can(user, "work", case)
    is_maintainer = access.can(user, "maintain", case)
    is_steward = assignment.steward.user_id == user.pk
    services.record_assignment_viewed(
        assignment=assignment, actor=user, source_ip=client_ip(request)
    )
    report = HandoverReport.objects.filter(assignment=assignment).first()
    if report is not None:
        report.assignment = assignment
    context = {
        "assignment": assignment,
        "case": case,
        "brief": brief_of(assignment.request),
        "may_work": may_work,
        "is_case_maintainer": is_maintainer,
        "is_steward": is_steward,
        "report": report_of(report) if report else None,
        "report_filed": report is not None,
        "extensions": assignment.extensions.all(),
        "respond_form": forms.get("respond_form") or RespondForm(),
        "extension_form": forms.get("extension_form") or ExtensionForm(),
        "note_form": forms.get("note_form") or NoteForm(),
        "error": forms.get("error"),
    }
    return render(request, "cases/assignment_detail.html", context, status=status)


@login_required
def assignment_detail(request, public_id):
    assignment = access.get_assignment_for(request.user, public_id)
    return _assignment_page(request, assignment)


@login_required
def my_assignments(request):
    rows = (
        access.assignments_visible_to(request.user)
        .filter(steward__user=request.user)
        .select_related("case__project")
    )
    return render(request, "cases/assignment_list.html", {"assignments": rows})


@login_required
@require_POST
def respond_to_assignment(request, public_id):
    assignment = access.get_assignment_for(request.user, public_id)
    form = RespondForm(request.POST)
    if form.is_valid():
        accept = form.cleaned_data["decision"] == "accept"
        try:
            assignment = services.respond_to_assignment(
                assignment=assignment,
                actor=request.user,
                accept=accept,
                source_ip=client_ip(request),
            )
        except Refused as exc:
            return _assignment_page(
                request, assignment, status=400, error=" ".join(exc.messages)
            )
        if not accept:
            messages.success(request, "You declined the steward.")
        elif assignment.status == assignment.Status.AWAITING_APPROVAL:
            messages.success(
                request,
                "Accepted. The release scope now needs a second caseworker's approval.",
            )
        else:
            messages.success(request, "Accepted. The assignment is active.")
        return redirect("cases:assignment", assignment.public_id)
    return _assignment_page(request, assignment, respond_form=form, status=400)


@caseworker_required
def approvals(request, status=200):
    assignments, extensions = access.approvals_for(request.user)
    return render(
        request,
        "cases/assignment_approvals.html",
        {"assignments": assignments, "extensions": extensions},
        status=status,
    )


@caseworker_required
@require_POST
def approve_assignment(request, public_id):
    assignment = access.get_for_approval(request.user, public_id)
    try:
        services.approve_assignment(
            assignment=assignment, actor=request.user, source_ip=client_ip(request)
        )
    except Refused as exc:
        _refused(request, exc)
        return approvals(request, status=400)
    messages.success(request, "Approved: the assignment is active.")
    return redirect("cases:approvals")


@caseworker_required
@require_POST
def approve_extension(request, extension_id):
    extension = access.get_extension_for_approval(request.user, extension_id)
    try:
        services.approve_extension(
            extension=extension, actor=request.user, source_ip=client_ip(request)
        )
    except Refused as exc:
        _refused(request, exc)
        return approvals(request, status=400)
    messages.success(request, "Approved: the assignment is extended.")
    return redirect("cases:approvals")


@login_required
@require_POST
def propose_extension(request, public_id):
    assignment = access.get_assignment_for(request.user, public_id)
    form = ExtensionForm(request.POST)
    if form.is_valid():
        try:
            services.propose_extension(
                assignment=assignment,
                actor=request.user,
                new_ends_on=form.cleaned_data["new_ends_on"],
                source_ip=client_ip(request),
            )
        except Refused as exc:
            form.add_error("new_ends_on", exc)
        else:
            messages.success(request, "Extension proposed to the maintainer.")
            return redirect("cases:assignment", assignment.public_id)
    return _assignment_page(request, assignment, extension_form=form, status=400)


@login_required
@require_POST
def respond_to_extension(request, public_id, extension_id):
    assignment = access.get_assignment_for(request.user, public_id)
    extension = get_object_or_404(
        AssignmentExtension, assignment=assignment, public_id=extension_id
    )
    form = RespondForm(request.POST)
    if form.is_valid():
        try:
            services.respond_to_extension(
                extension=extension,
                actor=request.user,
                accept=form.cleaned_data["decision"] == "accept",
                source_ip=client_ip(request),
            )
        except Refused as exc:
            return _assignment_page(
                request, assignment, status=400, error=" ".join(exc.messages)
            )
        messages.success(request, "Your answer is recorded.")
        return redirect("cases:assignment", assignment.public_id)
    return _assignment_page(request, assignment, respond_form=form, status=400)


@login_required
@require_POST
def clear_assignment_block(request, public_id):
    assignment = access.get_assignment_for(request.user, public_id)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            services.clear_assignment_block(
                assignment=assignment,
                actor=request.user,
                note=form.cleaned_data["note"],
                source_ip=client_ip(request),
            )
        except Refused as exc:
            form.add_error("note", exc)
        else:
            messages.success(request, "Cleared: the maintainer can now answer.")
            return redirect("cases:assignment", assignment.public_id)
    return _assignment_page(request, assignment, note_form=form, status=400)


@login_required
@sensitive_post_parameters()
def file_report(request, public_id):
    assignment = access.get_assignment_for(request.user, public_id)
    if assignment.steward.user_id != request.user.pk:
        raise PermissionDenied("Only the steward files the handover report.")
    form = HandoverReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.file_handover_report(
                assignment=assignment,
                actor=request.user,
                source_ip=client_ip(request),
                **form.cleaned_data,
            )
        except Refused as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Thank you: your handover report is filed.")
            return redirect("cases:assignment", assignment.public_id)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "cases/handover_report_form.html",
        {"assignment": assignment, "form": form},
        status=status,
    )


@caseworker_required
@require_POST
def suspend_steward(request, public_id):
    steward = get_object_or_404(StewardProfile, public_id=public_id)
    form = SuspendForm(request.POST)
    if form.is_valid():
        try:
            services.suspend_steward(
                steward=steward,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                source_ip=client_ip(request),
            )
        except Refused as exc:
            form.add_error("reason", exc)
        else:
            messages.success(
                request,
                f"{steward.handle} is suspended; their assignments have ended and the "
                "maintainers concerned are told.",
            )
            return redirect(_steward_page(steward))
    return render(
        request,
        "cases/steward_suspend.html",
        {"steward": steward, "form": form},
        status=400,
    )


def _steward_page(steward) -> str:
    return reverse("roster:detail", args=[steward.public_id])


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
