"""The dependency check: which handover notices concern the components of a document.

The page and `POST /api/v1/check` share `check_document`; neither needs an account.
"""

import json
from io import BytesIO

from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.notices.selectors import published_notices
from portal.scrutiny import components, matching
from portal.scrutiny.components import KINDS, MAX_BYTES, DocumentError
from portal.scrutiny.forms import CheckForm

# Room for the multipart envelope and the other form fields around a document of MAX_BYTES.
_FORM_OVERHEAD = 256 * 1024


def check_document(data: bytes, *, kind: str | None = None) -> dict:
    """Parse a dependency document and match it against every published notice.

    Raises DocumentError (naming the line or field) for anything malformed or too large.
    """
    parsed = components.parse_document(data, kind=kind or None)
    # One query: the latest published revision of every notice, as its signed document.
    documents = [
        json.loads(bytes(document))
        for document in published_notices().values_list(
            "latest_revision__document", flat=True
        )
    ]
    return matching.results_as_json(matching.check_components(parsed, documents))


def _too_large(request) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BYTES + _FORM_OVERHEAD
    except ValueError:
        return True


class _BoundedUpload(FileUploadHandler):
    """Keeps an upload in memory, up to the check's limit; past it, only counts its size.

    SECURITY: the site-wide handler is sized for case attachments; the check has its own limit
    and its files must never be spooled to disk.
    """

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.buffer = BytesIO()
        self.size = 0

    def receive_data_chunk(self, raw_data, start):
        self.size += len(raw_data)
        if self.size <= MAX_BYTES:
            self.buffer.write(raw_data)
        else:
            # Too large: keep counting so the page can say so, but hold nothing more.
            self.buffer = BytesIO()
        return None

    def file_complete(self, file_size):
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            file=self.buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=self.size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )


_LIMIT_MESSAGE = f"The document is larger than {MAX_BYTES // (1024 * 1024)} MB, the most the check reads."


@csrf_exempt
def check_page(request):
    # The upload handlers must be swapped before anything reads the body, and the CSRF check
    # reads it, so that check runs inside, after the swap.
    if request.method == "POST":
        if _too_large(request):
            return _render(request, CheckForm(), error=_LIMIT_MESSAGE, status=413)
        request.upload_handlers = [_BoundedUpload(request)]
    return _check_page(request)


@csrf_protect
def _check_page(request):
    if request.method != "POST":
        return _render(request, CheckForm())
    try:
        form = CheckForm(request.POST, request.FILES)
        valid = form.is_valid()
    except RequestDataTooBig:
        return _render(
            request,
            CheckForm(),
            error="A pasted document can be at most 2.5 MB; upload larger ones as a file.",
            status=413,
        )
    if not valid:
        return _render(request, form, status=400)
    upload = form.cleaned_data.get("document")
    if upload is not None and upload.size > MAX_BYTES:
        return _render(request, form, error=_LIMIT_MESSAGE, status=413)
    try:
        result = check_document(form.document_bytes(), kind=form.cleaned_data["kind"])
    except DocumentError as exc:
        return _render(request, form, error=str(exc), status=400)
    if request.POST.get("format") == "json":
        response = HttpResponse(
            json.dumps(result, ensure_ascii=False, indent=2).encode("utf-8"),
            content_type="application/json",
        )
        response["Content-Disposition"] = (
            'attachment; filename="steady-dependency-check.json"'
        )
        return response
    return _render(request, form, result=result)


def _render(request, form, *, result=None, error=None, status=200):
    return render(
        request,
        "scrutiny/check.html",
        {"form": form, "result": result, "error": error},
        status=status,
    )


class CheckAPI(APIView):
    """`POST /api/v1/check`: the body is the document itself, whatever its Content-Type."""

    authentication_classes = []
    permission_classes = []
    parser_classes = []

    @extend_schema(
        operation_id="check",
        summary="Which handover notices concern the components of a dependency document",
        description=(
            "Send a CycloneDX JSON SBOM, an SPDX JSON document, a requirements.txt, a pip lock "
            "(pylock.toml), an npm package-lock.json or a list of package URLs (one a line) as "
            "the request body. Up to 10 MB and 50,000 components."
        ),
        parameters=[
            OpenApiParameter(
                "kind",
                str,
                enum=KINDS,
                description="The kind of document; detected if absent.",
            )
        ],
        request={
            "application/octet-stream": OpenApiTypes.BINARY,
            "application/json": OpenApiTypes.OBJECT,
            "text/plain": OpenApiTypes.STR,
        },
        responses={
            200: OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                description="steady-dependency-check/1: a summary and, per component, the "
                "notices naming it and whether its version was released in a window.",
            ),
            400: OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                description="`detail` names the line or field that is wrong.",
            ),
            413: OpenApiResponse(
                response=OpenApiTypes.OBJECT, description="The document is too large."
            ),
        },
    )
    def post(self, request):
        if _too_large(request):
            return Response({"detail": _LIMIT_MESSAGE}, status=413)
        kind = request.query_params.get("kind") or None
        stream = request.stream
        # Read the raw stream: request.body would apply the site-wide form-data limit.
        data = stream.read(MAX_BYTES + 1) if stream is not None else b""
        if len(data) > MAX_BYTES:
            return Response({"detail": _LIMIT_MESSAGE}, status=413)
        try:
            result = check_document(data, kind=kind)
        except DocumentError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(result)
