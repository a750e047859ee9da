from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView

from portal.notices import api
from portal.scrutiny import views as scrutiny_views

app_name = "api"

_NOTICE = r"(?P<reference>[A-Za-z0-9-]{1,16})"
_NUMBER = r"(?P<number>[1-9][0-9]{0,5})"

urlpatterns = [
    path("notices", api.NoticeList.as_view(), name="notices"),
    re_path(rf"^notices/{_NOTICE}$", api.NoticeDetail.as_view(), name="notice"),
    re_path(rf"^notices/{_NOTICE}/osv$", api.NoticeOSV.as_view(), name="notice_osv"),
    re_path(
        rf"^notices/{_NOTICE}/revisions$", api.RevisionList.as_view(), name="revisions"
    ),
    re_path(
        rf"^notices/{_NOTICE}/revisions/{_NUMBER}$",
        api.RevisionDetail.as_view(),
        name="revision",
    ),
    re_path(
        rf"^notices/{_NOTICE}/revisions/{_NUMBER}/signature$",
        api.RevisionSignature.as_view(),
        name="revision_signature",
    ),
    path("log/checkpoint", api.LogCheckpointView.as_view(), name="log_checkpoint"),
    path("log/entries", api.LogEntries.as_view(), name="log_entries"),
    path("log/proof/inclusion", api.InclusionProof.as_view(), name="log_inclusion"),
    path(
        "log/proof/consistency", api.ConsistencyProof.as_view(), name="log_consistency"
    ),
    path("check", scrutiny_views.CheckAPI.as_view(), name="check"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
]
