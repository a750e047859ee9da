from django.urls import path, register_converter

from portal.notices import feeds, views

app_name = "notices"


class RevisionNumber:
    """A revision number, or "latest"."""

    regex = r"[1-9][0-9]{0,5}|latest"

    def to_python(self, value):
        return value if value == "latest" else int(value)

    def to_url(self, value):
        return str(value)


register_converter(RevisionNumber, "revision")

urlpatterns = [
    path("", views.notice_list, name="list"),
    path("feed.atom", feeds.NoticeFeed(), name="feed"),
    path(
        "ecosystem/<str:ecosystem>/feed.atom",
        feeds.EcosystemFeed(),
        name="feed_ecosystem",
    ),
    path("project/<str:project>/feed.atom", feeds.ProjectFeed(), name="feed_project"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("subscribe/confirm/<str:token>/", views.confirm_subscription, name="confirm"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("webhooks/", views.webhooks, name="webhooks"),
    path("webhooks/<uuid:public_id>/", views.webhook_detail, name="webhook"),
    path(
        "webhooks/<uuid:public_id>/<slug:action>/",
        views.webhook_action,
        name="webhook_action",
    ),
    path("deliveries/<uuid:public_id>/redeliver/", views.redeliver, name="redeliver"),
    path("review/", views.review_list, name="review"),
    path("review/<uuid:public_id>/approve/", views.approve, name="approve"),
    path("review/<uuid:public_id>/discard/", views.discard, name="discard"),
    path("<str:reference>/", views.notice_detail, name="detail"),
    path("<str:reference>/revise/", views.revise, name="revise"),
    path(
        "<str:reference>/revisions/<revision:number>.json",
        views.revision_document,
        name="revision_document",
    ),
    path(
        "<str:reference>/revisions/<revision:number>.json.sig",
        views.revision_signature,
        name="revision_signature",
    ),
    path(
        "<str:reference>/revisions/<int:number>/object/",
        views.object_to_revision,
        name="object",
    ),
]
