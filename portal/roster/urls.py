from django.urls import path

from portal.roster import views

app_name = "roster"

urlpatterns = [
    path("", views.roster_list, name="list"),
    path("apply/", views.apply, name="apply"),
    path("me/", views.me, name="me"),
    path("me/keys/", views.add_key, name="add-key"),
    path("me/involvement/", views.declare_involvement, name="declare-involvement"),
    path("<uuid:public_id>/", views.steward_detail, name="detail"),
    path("<uuid:public_id>/vouch/", views.vouch, name="vouch"),
    path(
        "<uuid:public_id>/identity-check/",
        views.record_identity_check,
        name="identity-check",
    ),
    path("<uuid:public_id>/vet/", views.vet, name="vet"),
    path("<uuid:public_id>/clear-hold/", views.clear_hold, name="clear-hold"),
    path(
        "<uuid:public_id>/involvement/",
        views.record_involvement,
        name="record-involvement",
    ),
]
