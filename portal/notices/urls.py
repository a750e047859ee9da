from django.urls import path

from portal.notices import views
from portal.notices.feeds import NoticeFeed

app_name = "notices"

urlpatterns = [
    path("", views.notice_list, name="list"),
    path("feed.atom", NoticeFeed(), name="feed"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("subscribe/confirm/<str:token>/", views.confirm_subscription, name="confirm"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("review/", views.review_list, name="review"),
    path("review/<uuid:public_id>/approve/", views.approve, name="approve"),
    path("<str:reference>/", views.notice_detail, name="detail"),
]
