from django.contrib import admin
from django.urls import include, path

from portal import views
from portal.accounts.views import admin_login

# SECURITY: no side door. The admin's own login form is replaced by the portal's sign-in (with
# its rate limits and second factor); the second-factor gate holds the rest of the admin.
admin.site.login = admin_login

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/", include("allauth.urls")),
    path("projects/", include("portal.projects.urls")),
    path("cases/", include("cases.urls")),
    path("notices/", include("portal.notices.urls")),
    path("roster/", include("portal.roster.urls")),
    path("admin/", admin.site.urls),
]
