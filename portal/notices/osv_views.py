"""OSV downloads next to the notice pages: one record, or every notice's record in one zip."""

from django.http import HttpResponse
from django.views.decorators.http import require_GET

from portal.lib import osv
from portal.notices import selectors
from portal.notices.api import osv_record_of, osv_response, with_etag

# The archive is built in memory on each request; past this many notices it would be better
# served as a file rebuilt on publication.
ARCHIVE_MAX_NOTICES = 10_000


@require_GET
def notice_osv(request, reference):
    return with_etag(
        request, osv_response(request, selectors.get_published_notice(reference))
    )


@require_GET
def osv_archive(request):
    notices = selectors.published_notices().select_related("latest_revision__notice")[
        :ARCHIVE_MAX_NOTICES
    ]
    data = osv.osv_archive([osv_record_of(request, notice) for notice in notices])
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = 'attachment; filename="osv.zip"'
    return with_etag(request, response)
