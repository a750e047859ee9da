"""The public, read-only JSON API: notices, their signed revisions, and the transparency log.

Every document the API serves is the revision's canonical bytes as signed and logged, never a
re-serialisation, so a downstream user can verify what they received with `ssh-keygen -Y verify`.
"""

import base64
import datetime
import hashlib
import json
import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse, HttpResponseNotModified
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from portal.lib import osv
from portal.lib.purl import PurlError, normalize_purl
from portal.notices import selectors
from portal.notices.models import HandoverNotice, LogEntry, NoticeRevision
from portal.notices.services import log
from portal.projects.models import Ecosystem

LIST_PAGE_SIZE = 50
LIST_MAX_PAGE_SIZE = 200
LOG_PAGE_SIZE = 100
STATUSES = ("active", "ended", "withdrawn")


# --- Errors ---------------------------------------------------------------------------------------
class BadParameter(APIException):
    """A query parameter is malformed or unknown; the body names it."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_parameter"

    def __init__(self, parameter: str, message: str):
        super().__init__(detail={"parameter": parameter, "detail": message})


def exception_handler(exc, context):
    """DRF's handler, plus refusals from services (`Refused`) as a 400 with the reason."""
    if isinstance(exc, DjangoValidationError):
        exc = APIException(detail={"detail": " ".join(exc.messages)})
        exc.status_code = status.HTTP_400_BAD_REQUEST
    return drf_exception_handler(exc, context)


ERROR = inline_serializer(
    "Error",
    fields={
        "detail": serializers.CharField(),
        "parameter": serializers.CharField(
            required=False, help_text="The query parameter that is wrong."
        ),
    },
)


# --- Conditional GET ------------------------------------------------------------------------------
def with_etag(request, response):
    """Give a 200 GET response a strong ETag (hash of its body); answer If-None-Match with 304.

    Used by the API and the plain-Django download views alike.
    """
    if request.method not in ("GET", "HEAD") or response.status_code != 200:
        return response
    if hasattr(response, "render") and not getattr(response, "is_rendered", True):
        response.render()
    etag = f'"{hashlib.sha256(response.content).hexdigest()}"'
    response["ETag"] = etag
    # A cursor or filter changes the body; the URL already carries them, so only the
    # negotiation headers vary.
    patch_vary_headers(response, ["Accept"])
    candidates = parse_etags(request.headers.get("If-None-Match", ""))
    # If-None-Match uses the weak comparison (RFC 9110, 13.1.2): W/"x" matches "x".
    if "*" in candidates or etag in {c.removeprefix("W/") for c in candidates}:
        not_modified = HttpResponseNotModified()
        not_modified["ETag"] = etag
        for header in ("Vary", "Cache-Control"):
            if header in response:
                not_modified[header] = response[header]
        return not_modified
    return response


class PublicAPIView(APIView):
    """Anonymous, read-only, with an ETag on every successful GET."""

    authentication_classes = []
    permission_classes = []

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        return with_etag(request, response)


# --- Query parameters -----------------------------------------------------------------------------
def _only(request, allowed: set[str]) -> None:
    for name in request.query_params:
        if name not in allowed:
            raise BadParameter(
                name,
                f"Unknown parameter; this endpoint takes {', '.join(sorted(allowed))}.",
            )


def _single(request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise BadParameter(name, "Give this parameter once.")
    return values[0]


def _choice(request, name: str, choices) -> str:
    value = _single(request, name)
    if value is None:
        return ""
    if value not in choices:
        raise BadParameter(name, f"“{value[:40]}” is not one of {', '.join(choices)}.")
    return value


def _integer(request, name: str, *, required: bool, minimum: int = 0) -> int | None:
    value = _single(request, name)
    if value is None or value == "":
        if required:
            raise BadParameter(name, "This parameter is required.")
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise BadParameter(name, f"“{value[:40]}” is not a whole number.")
    number = int(value)
    if number < minimum:
        raise BadParameter(name, f"Must be at least {minimum}.")
    return number


_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"
)


def _timestamp(request, name: str) -> datetime.datetime | None:
    value = _single(request, name)
    if value is None:
        return None
    text = value.strip().upper()
    # An unencoded "+" in a query string arrives as a space: "…11 01:00" meant "…11+01:00".
    if len(text) > 6 and text[-6] == " " and text[-3] == ":":
        text = text[:-6] + "+" + text[-5:]
    message = f"“{value[:40]}” is not an RFC 3339 time, e.g. 2026-11-20T14:02:11Z."
    # Python's parser accepts more than RFC 3339 (no offset, week dates): check the shape first.
    if not _RFC3339.match(text):
        raise BadParameter(name, message)
    try:
        return datetime.datetime.fromisoformat(
            text.removesuffix("Z") + ("+00:00" if text.endswith("Z") else "")
        )
    except ValueError:
        raise BadParameter(name, message) from None


# --- Notices --------------------------------------------------------------------------------------
def _document_url(request, revision: NoticeRevision) -> str:
    return request.build_absolute_uri(
        reverse(
            "api:revision",
            args=[revision.notice.reference, revision.number],
        )
    )


def _signature_url(request, revision: NoticeRevision) -> str:
    return request.build_absolute_uri(
        reverse(
            "api:revision_signature",
            args=[revision.notice.reference, revision.number],
        )
    )


class NoticeCursorPagination(CursorPagination):
    ordering = ("-modified_at", "-id")
    page_size = LIST_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = LIST_MAX_PAGE_SIZE


class NoticeListItemSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The notice's id, e.g. HN-2026-0007.")
    revision = serializers.IntegerField()
    document = serializers.JSONField(
        help_text="The latest published revision (steady-notice/1, docs/notice-format.md)."
    )
    document_url = serializers.URLField(
        help_text="The exact signed bytes of this revision."
    )
    signature_url = serializers.URLField(
        help_text="Its SSH signature (namespace steady-notice)."
    )


NOTICE_PAGE = inline_serializer(
    "NoticePage",
    fields={
        "next": serializers.URLField(
            allow_null=True,
            help_text="The next page (cursor), or null on the last one.",
        ),
        "previous": serializers.URLField(allow_null=True),
        "results": NoticeListItemSerializer(many=True),
    },
)

LIST_PARAMETERS = [
    OpenApiParameter("status", str, enum=STATUSES, description="The notice's status."),
    OpenApiParameter(
        "ecosystem",
        str,
        enum=tuple(Ecosystem.values),
        description="Steady's ecosystem code.",
    ),
    OpenApiParameter(
        "purl",
        str,
        description="A package URL without a version, e.g. pkg:pypi/tinyzip; normalised first.",
    ),
    OpenApiParameter(
        "project", str, description="The project name (case-insensitive)."
    ),
    OpenApiParameter(
        "modified_since",
        OpenApiTypes.DATETIME,
        description="Only notices with a revision published after this RFC 3339 time.",
    ),
    OpenApiParameter(
        "page_size",
        int,
        description=f"Notices per page, at most {LIST_MAX_PAGE_SIZE} (default {LIST_PAGE_SIZE}).",
    ),
]


class NoticeList(PublicAPIView):
    pagination_class = NoticeCursorPagination
    parameters = {
        "status",
        "ecosystem",
        "purl",
        "project",
        "modified_since",
        "cursor",
        "page_size",
    }

    @extend_schema(
        operation_id="notices_list",
        summary="Published handover notices, newest first",
        parameters=[
            *LIST_PARAMETERS,
            OpenApiParameter("cursor", str, description="From `next` or `previous`."),
        ],
        responses={200: NOTICE_PAGE, 400: ERROR},
    )
    def get(self, request):
        _only(request, self.parameters)
        purl = _single(request, "purl")
        if purl is not None:
            try:
                purl = normalize_purl(purl)
            except PurlError as exc:
                raise BadParameter("purl", str(exc)) from None
        ecosystem = _choice(request, "ecosystem", Ecosystem.values)
        notices = selectors.filter_notices(
            selectors.published_notices(),
            status=_choice(request, "status", STATUSES),
            ecosystem=ecosystem,
            purl=purl or "",
            project=(_single(request, "project") or "").strip()[:120],
            modified_since=_timestamp(request, "modified_since"),
        ).select_related("latest_revision__notice")
        paginator = self.pagination_class()
        page_size = _integer(request, "page_size", required=False, minimum=1)
        if page_size is not None and page_size > LIST_MAX_PAGE_SIZE:
            raise BadParameter("page_size", f"At most {LIST_MAX_PAGE_SIZE}.")
        page = paginator.paginate_queryset(notices, request, view=self)
        return paginator.get_paginated_response(
            [self._item(request, notice) for notice in page]
        )

    @staticmethod
    def _item(request, notice: HandoverNotice) -> dict:
        revision = notice.latest_revision
        return {
            "id": notice.reference,
            "revision": revision.number,
            "document": json.loads(bytes(revision.document)),
            "document_url": _document_url(request, revision),
            "signature_url": _signature_url(request, revision),
        }


def _bytes_response(request, revision: NoticeRevision) -> HttpResponse:
    response = HttpResponse(bytes(revision.document), content_type="application/json")
    reference = revision.notice.reference
    response["Link"] = ", ".join(
        [
            f'<{_signature_url(request, revision)}>; rel="signature"',
            '<{}>; rel="version-history"'.format(
                request.build_absolute_uri(reverse("api:revisions", args=[reference]))
            ),
        ]
    )
    return response


SIGNED_BYTES = OpenApiResponse(
    response=OpenApiTypes.OBJECT,
    description=(
        "The revision's canonical JSON bytes exactly as signed (steady-notice/1). "
        "`Link` headers point to the signature and the revision history."
    ),
)
NOT_FOUND = OpenApiResponse(response=ERROR, description="No such published notice.")


class NoticeDetail(PublicAPIView):
    @extend_schema(
        operation_id="notices_retrieve",
        summary="The latest published revision of a notice, as signed",
        responses={200: SIGNED_BYTES, 404: NOT_FOUND},
    )
    def get(self, request, reference):
        notice = selectors.get_published_notice(reference)
        revision = notice.latest_revision
        revision.notice = notice
        return _bytes_response(request, revision)


REVISION_ITEMS = inline_serializer(
    "RevisionListItem",
    many=True,
    fields={
        "number": serializers.IntegerField(),
        "kind": serializers.ChoiceField(choices=NoticeRevision.Kind.values),
        "published": serializers.DateTimeField(),
        "effective": serializers.DateTimeField(
            help_text="When it takes effect: later than `published` while in its objection period."
        ),
        "document_url": serializers.URLField(),
        "signature_url": serializers.URLField(),
    },
)


def _stamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class RevisionList(PublicAPIView):
    @extend_schema(
        operation_id="notices_revisions_list",
        summary="Every published revision of a notice, oldest first",
        responses={200: REVISION_ITEMS, 404: NOT_FOUND},
    )
    def get(self, request, reference):
        notice = selectors.get_published_notice(reference)
        items = []
        for revision in selectors.published_revisions(notice):
            revision.notice = notice
            items.append(
                {
                    "number": revision.number,
                    "kind": revision.kind,
                    "published": _stamp(revision.published_at),
                    "effective": _stamp(revision.effective_at),
                    "document_url": _document_url(request, revision),
                    "signature_url": _signature_url(request, revision),
                }
            )
        return Response(items)


class RevisionDetail(PublicAPIView):
    @extend_schema(
        operation_id="notices_revisions_retrieve",
        summary="One published revision, as signed",
        responses={200: SIGNED_BYTES, 404: NOT_FOUND},
    )
    def get(self, request, reference, number):
        return _bytes_response(
            request, selectors.get_published_revision(reference, int(number))
        )


class RevisionSignature(PublicAPIView):
    @extend_schema(
        operation_id="notices_revisions_signature",
        summary="The armoured SSH signature of one revision's bytes",
        description=(
            "Verify with `ssh-keygen -Y verify -f allowed_signers -I <identity> "
            "-n steady-notice -s signature < document`; allowed_signers is at "
            "/.well-known/steady/allowed_signers."
        ),
        responses={
            (200, "text/plain"): OpenApiResponse(
                response=OpenApiTypes.STR,
                description="-----BEGIN SSH SIGNATURE----- ...",
            ),
            404: NOT_FOUND,
        },
    )
    def get(self, request, reference, number):
        revision = selectors.get_published_revision(reference, int(number))
        return HttpResponse(
            revision.signature, content_type="text/plain; charset=utf-8"
        )


# --- OSV ------------------------------------------------------------------------------------------
def osv_record_of(request, notice: HandoverNotice) -> dict:
    """The OSV record of the notice's latest revision, carrying its signed bytes."""
    revision = notice.latest_revision
    revision.notice = notice
    return osv.osv_record(
        json.loads(bytes(revision.document)),
        canonical=bytes(revision.document),
        signature=revision.signature,
        notice_url=request.build_absolute_uri(
            reverse("notices:detail", args=[notice.reference])
        ),
        signature_url=_signature_url(request, revision),
    )


def osv_response(request, notice: HandoverNotice) -> HttpResponse:
    response = HttpResponse(
        osv.osv_json(osv_record_of(request, notice)), content_type="application/json"
    )
    response["Content-Disposition"] = (
        f'inline; filename="{osv.ID_PREFIX}{notice.reference}.json"'
    )
    return response


class NoticeOSV(PublicAPIView):
    @extend_schema(
        operation_id="notices_osv",
        summary="The OSV 1.7 record of a notice's latest revision",
        description=(
            "Id `x_HANDOVER-<notice id>`; the signed notice bytes and their signature are under "
            "`database_specific`."
        ),
        responses={
            200: OpenApiResponse(
                response=OpenApiTypes.OBJECT, description="An OSV record."
            ),
            404: NOT_FOUND,
        },
    )
    def get(self, request, reference):
        return osv_response(request, selectors.get_published_notice(reference))


# --- Docs page ------------------------------------------------------------------------------------
class APIDocsView(SpectacularSwaggerSplitView):
    """Swagger UI from our static files; its start-up script is a separate request (strict CSP)."""

    template_name = "api/swagger_ui.html"
    url_name = "api:schema"

    def perform_authentication(self, request):
        # The page renders through Django templates, whose context processors expect Django's
        # own `request.user` (the API itself has no authentication, so DRF's user is None).
        request.user = request._request.user


# --- Transparency log -----------------------------------------------------------------------------
def _b64(data) -> str:
    return base64.b64encode(bytes(data)).decode()


CHECKPOINT = inline_serializer(
    "Checkpoint",
    fields={
        "origin": serializers.CharField(),
        "tree_size": serializers.IntegerField(),
        "root_hash": serializers.CharField(
            help_text="Base64 of the RFC 6962 root hash."
        ),
        "timestamp": serializers.CharField(),
        "checkpoint": serializers.CharField(help_text="The signed checkpoint text."),
        "signature": serializers.CharField(
            help_text="SSH signature over the checkpoint text."
        ),
    },
)


class LogCheckpointView(PublicAPIView):
    @extend_schema(
        operation_id="log_checkpoint",
        summary="The log's latest signed checkpoint",
        responses={
            200: CHECKPOINT,
            404: OpenApiResponse(
                response=ERROR, description="Nothing is in the log yet."
            ),
        },
    )
    def get(self, request):
        _only(request, set())
        checkpoint = log.latest_checkpoint()
        if checkpoint is None:
            return Response(
                {"detail": "Nothing has been published to the log yet."},
                status=status.HTTP_404_NOT_FOUND,
            )
        origin = checkpoint.text.split("\n", 1)[0]
        return Response(
            {
                "origin": origin,
                "tree_size": checkpoint.tree_size,
                "root_hash": _b64(checkpoint.root_hash),
                "timestamp": _stamp(checkpoint.created_at),
                "checkpoint": checkpoint.text,
                "signature": checkpoint.signature,
            }
        )


LOG_ENTRIES = inline_serializer(
    "LogEntry",
    many=True,
    fields={
        "index": serializers.IntegerField(),
        "leaf_hash": serializers.CharField(
            help_text="Base64 of the RFC 6962 leaf hash."
        ),
        "notice": serializers.CharField(),
        "revision": serializers.IntegerField(),
        "document_url": serializers.URLField(
            help_text="The leaf's data: the signed bytes."
        ),
    },
)


class LogEntries(PublicAPIView):
    @extend_schema(
        operation_id="log_entries",
        summary=f"Log entries from `start` up to `end` (exclusive), at most {LOG_PAGE_SIZE}",
        parameters=[
            OpenApiParameter("start", int, required=True),
            OpenApiParameter(
                "end",
                int,
                description=f"Exclusive; default and limit start + {LOG_PAGE_SIZE}.",
            ),
        ],
        responses={200: LOG_ENTRIES, 400: ERROR},
    )
    def get(self, request):
        _only(request, {"start", "end"})
        start = _integer(request, "start", required=True)
        end = _integer(request, "end", required=False)
        if end is None:
            end = start + LOG_PAGE_SIZE
        if end <= start:
            raise BadParameter("end", "Must be greater than start.")
        end = min(end, start + LOG_PAGE_SIZE)
        entries = (
            LogEntry.objects.filter(index__gte=start, index__lt=end)
            .select_related("revision__notice")
            .order_by("index")
        )
        return Response(
            [
                {
                    "index": entry.index,
                    "leaf_hash": _b64(entry.leaf_hash),
                    "notice": entry.revision.notice.reference,
                    "revision": entry.revision.number,
                    "document_url": _document_url(request, entry.revision),
                }
                for entry in entries
            ]
        )


INCLUSION = inline_serializer(
    "InclusionProof",
    fields={
        "index": serializers.IntegerField(),
        "tree_size": serializers.IntegerField(),
        "leaf_hash": serializers.CharField(),
        "audit_path": serializers.ListField(child=serializers.CharField()),
    },
)


class InclusionProof(PublicAPIView):
    @extend_schema(
        operation_id="log_proof_inclusion",
        summary="Proof that a revision is in the log (RFC 6962 audit path)",
        parameters=[
            OpenApiParameter(
                "notice", str, required=True, description="e.g. HN-2026-0007"
            ),
            OpenApiParameter("revision", int, required=True),
            OpenApiParameter(
                "tree_size", int, description="Default: the log's current size."
            ),
        ],
        responses={200: INCLUSION, 400: ERROR, 404: NOT_FOUND},
    )
    def get(self, request):
        _only(request, {"notice", "revision", "tree_size"})
        reference = _single(request, "notice")
        if not reference:
            raise BadParameter("notice", "This parameter is required.")
        number = _integer(request, "revision", required=True, minimum=1)
        tree_size = _integer(request, "tree_size", required=False, minimum=1)
        revision = selectors.get_published_revision(reference[:16], number)
        return Response(log.inclusion(revision=revision, tree_size=tree_size))


CONSISTENCY = inline_serializer(
    "ConsistencyProof",
    fields={
        "first": serializers.IntegerField(),
        "second": serializers.IntegerField(),
        "proof": serializers.ListField(child=serializers.CharField()),
    },
)


class ConsistencyProof(PublicAPIView):
    @extend_schema(
        operation_id="log_proof_consistency",
        summary="Proof that the log of size `second` only appended to the log of size `first`",
        parameters=[
            OpenApiParameter("first", int, required=True),
            OpenApiParameter("second", int, required=True),
        ],
        responses={200: CONSISTENCY, 400: ERROR},
    )
    def get(self, request):
        _only(request, {"first", "second"})
        first = _integer(request, "first", required=True, minimum=1)
        second = _integer(request, "second", required=True, minimum=1)
        return Response(log.consistency(first=first, second=second))
