from django.contrib import admin
from django.urls import include, path

from portal import views
from portal.accounts.views import admin_login
from portal.notices import api, osv_views
from portal.notices import views as notice_views

# SECURITY: no side door. The admin's own login form is replaced by the portal's sign-in (with
# its rate limits and second factor); the second-factor gate holds the rest of the admin.
admin.site.login = admin_login

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("allauth.urls")),
    path("projects/", include("portal.projects.urls")),
    path("cases/", include("cases.urls")),
    path("notices/osv.zip", osv_views.osv_archive, name="osv_archive"),
    path("notices/<str:reference>/osv.json", osv_views.notice_osv, name="notice_osv"),
    path("notices/", include("portal.notices.urls")),
    path("roster/", include("portal.roster.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("portal.notices.api_urls")),
    path(
        "api/docs/",
        api.APIDocsView.as_view(),
        name="api_docs",
    ),
    path(
        ".well-known/steady/allowed_signers",
        notice_views.allowed_signers,
        name="allowed_signers",
    ),
    path("check/", include("portal.scrutiny.urls")),
]
