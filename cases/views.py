from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from cases import access, selectors, services
from cases.forms import CaseForm, MessageForm, StatusForm
from portal.accounts.access import caseworker_required
from portal.lib.errors import Refused
from portal.lib.http import client_ip
from portal.notices.forms import NoticeDraftForm


@login_required
def case_list(request):
    return render(
        request,
        "cases/case_list.html",
        {"cases": selectors.case_list_for(request.user)},
    )


@login_required
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


def _detail(request, case, *, message_form=None, status_form=None, status=200):
    may_work = access.can(request.user, "work", case)
    context = {
        "case": case,
        "may_work": may_work,
        "conversation": selectors.messages_for(request.user, case),
        "timeline": case.events.select_related("actor"),
        "caseworkers": case.caseworkers.all(),
        "handovers": case.handovers.select_related("notice"),
        "message_form": message_form or MessageForm(),
        "status_form": status_form
        or (StatusForm(current=case.status) if may_work else None),
    }
    return render(request, "cases/case_detail.html", context, status=status)


@login_required
def case_detail(request, public_id):
    case = access.get_case_for(request.user, public_id)
    services.record_case_viewed(
        case=case, actor=request.user, source_ip=client_ip(request)
    )
    return _detail(request, case)


@login_required
@require_POST
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


@caseworker_required
def queue(request):
    rows = list(selectors.triage_queue_for(request.user))
    mine = set(
        access.cases_visible_to(request.user, access.WORK).values_list("pk", flat=True)
    )
    return render(request, "cases/case_queue.html", {"rows": rows, "mine": mine})


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
        for message in exc.messages:
            messages.error(request, message)
        return redirect("cases:queue")
    messages.success(request, "The case is assigned to you.")
    return redirect("cases:detail", case.public_id)


@login_required
def draft_handover(request, public_id):
    case = access.get_case_for(request.user, public_id, perm=access.WORK)
    initial = {
        "project_name": case.project.name,
        "ecosystem": case.project.ecosystem,
        "repository_url": case.project.repository_url,
        "purls": "\n".join(case.project.purls),
    }
    form = NoticeDraftForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.draft_handover(
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
                "The notice is drafted. A second caseworker must approve it before it is published.",
            )
            return redirect("cases:detail", case.public_id)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "cases/handover_form.html", {"case": case, "form": form}, status=status
    )
