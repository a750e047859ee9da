from django.urls import path

from portal.scrutiny import views

app_name = "scrutiny"

urlpatterns = [
    path("", views.check_page, name="check"),
]
