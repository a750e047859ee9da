from django.urls import path

from cases import views

app_name = "cases"

urlpatterns = [
    path("", views.case_list, name="list"),
    path("new/", views.case_create, name="create"),
    path("queue/", views.queue, name="queue"),
    path("<uuid:public_id>/", views.case_detail, name="detail"),
    path("<uuid:public_id>/messages/", views.post_message, name="post-message"),
    path("<uuid:public_id>/status/", views.change_status, name="change-status"),
    path("<uuid:public_id>/assign-me/", views.assign_self, name="assign-self"),
    path("<uuid:public_id>/handover/", views.draft_handover, name="draft-handover"),
]
