from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from portal.lib.http import client_ip
from portal.projects.forms import ProjectForm
from portal.projects.models import Project
from portal.projects.services import register_project


@login_required
def project_list(request):
    projects = Project.objects.filter(maintainerships__user=request.user).order_by(
        "name"
    )
    return render(request, "projects/project_list.html", {"projects": projects})


@login_required
def project_create(request):
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = register_project(
                actor=request.user, source_ip=client_ip(request), **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, f"{project.name} is registered as one of your projects."
            )
            return redirect("projects:list")
    status = 400 if request.method == "POST" else 200
    return render(request, "projects/project_form.html", {"form": form}, status=status)
