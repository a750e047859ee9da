from django.urls import path

from cases import views

app_name = "cases"

urlpatterns = [
    path("", views.case_list, name="list"),
    path("new/", views.case_create, name="create"),
    path("queue/", views.queue, name="queue"),
    path("conflicts/", views.conflicts, name="conflicts"),
    path(
        "conflicts/<int:conflict_id>/withdraw/",
        views.withdraw_conflict,
        name="withdraw-conflict",
    ),
    path("<uuid:public_id>/", views.case_detail, name="detail"),
    path("<uuid:public_id>/messages/", views.post_message, name="post-message"),
    path("<uuid:public_id>/files/", views.add_attachment, name="add-attachment"),
    path(
        "<uuid:public_id>/files/<uuid:attachment_id>/",
        views.download_attachment,
        name="download-attachment",
    ),
    path("<uuid:public_id>/status/", views.change_status, name="change-status"),
    path("<uuid:public_id>/assign-me/", views.assign_self, name="assign-self"),
    path("<uuid:public_id>/assign/", views.assign_colleague, name="assign-colleague"),
    path("<uuid:public_id>/unassign-me/", views.unassign_self, name="unassign-self"),
    path(
        "<uuid:public_id>/co-maintainers/",
        views.add_co_maintainer,
        name="add-co-maintainer",
    ),
    path("<uuid:public_id>/withdraw/", views.withdraw, name="withdraw"),
    path("<uuid:public_id>/handover/", views.draft_handover, name="draft-handover"),
    path(
        "<uuid:public_id>/handover/consent/<uuid:revision_id>/",
        views.consent_to_revision,
        name="consent-to-revision",
    ),
    path("<uuid:public_id>/identities/", views.record_identity, name="record-identity"),
    path(
        "<uuid:public_id>/alerts/<uuid:alert_id>/clear/",
        views.clear_alert,
        name="clear-alert",
    ),
    path("<uuid:public_id>/steward/", views.request_steward, name="request-steward"),
    path(
        "steward-requests/<uuid:request_id>/",
        views.steward_matching,
        name="steward-matching",
    ),
    path(
        "steward-requests/<uuid:request_id>/propose/",
        views.propose_steward,
        name="propose-steward",
    ),
    path("assignments/", views.my_assignments, name="my-assignments"),
    path("assignments/approvals/", views.approvals, name="approvals"),
    path("assignments/<uuid:public_id>/", views.assignment_detail, name="assignment"),
    path(
        "assignments/<uuid:public_id>/respond/",
        views.respond_to_assignment,
        name="respond-assignment",
    ),
    path(
        "assignments/<uuid:public_id>/approve/",
        views.approve_assignment,
        name="approve-assignment",
    ),
    path(
        "assignments/<uuid:public_id>/extend/",
        views.propose_extension,
        name="propose-extension",
    ),
    path(
        "assignments/<uuid:public_id>/extensions/<uuid:extension_id>/respond/",
        views.respond_to_extension,
        name="respond-extension",
    ),
    path(
        "extensions/<uuid:extension_id>/approve/",
        views.approve_extension,
        name="approve-extension",
    ),
    path(
        "assignments/<uuid:public_id>/clear/",
        views.clear_assignment_block,
        name="clear-assignment-block",
    ),
    path("assignments/<uuid:public_id>/report/", views.file_report, name="file-report"),
    path(
        "stewards/<uuid:public_id>/suspend/",
        views.suspend_steward,
        name="suspend_steward",
    ),
]
