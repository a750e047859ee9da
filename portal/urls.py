from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path

from portal import views

# SECURITY: no side door. The admin's own login form is replaced by the portal's sign-in.
admin.site.login = login_required(admin.site.login)

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("allauth.urls")),
    path("projects/", include("portal.projects.urls")),
    path("cases/", include("cases.urls")),
    path("notices/", include("portal.notices.urls")),
    path("admin/", admin.site.urls),
]
