"""python manage.py scrutinize REPO (--notice HN-YYYY-NNNN [--portal URL] | --notice-file PATH)"""

from django.conf import settings
from django.core.management.base import BaseCommand

from portal.scrutiny.gitscan import GitError, scan_repository
from portal.scrutiny.management.commands._common import (
    add_output_arguments,
    emit,
    input_error,
)
from portal.scrutiny.notice_source import NoticeError, fetch_notice, load_notice_file


class Command(BaseCommand):
    help = (
        "Review every commit and tag of a git repository made during a handover notice's "
        "window: unauthorised identities, changes carried for others, sensitive paths "
        "(build system, CI and fuzzing, security policy, ignore files, binary files), tags "
        "and signatures. Runs nothing from the repository. Exit status: 0 nothing flagged, "
        "1 something flagged, 2 usage or input error."
    )
    # Reads a repository and a JSON document; needs neither the database nor the checks.
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("repo", help="Path to the repository (work tree or bare).")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument(
            "--notice",
            metavar="HN-YYYY-NNNN",
            help="Fetch the latest revision of this notice from the portal.",
        )
        source.add_argument(
            "--notice-file",
            metavar="PATH",
            help="A downloaded notice (JSON) whose signature you have checked.",
        )
        parser.add_argument(
            "--portal",
            metavar="URL",
            default=None,
            help="The portal to fetch --notice from (default: SITE_URL).",
        )
        add_output_arguments(parser)

    def handle(self, *args, **options):
        try:
            if options["notice_file"]:
                notice = load_notice_file(options["notice_file"])
            else:
                portal = options["portal"] or settings.SITE_URL
                notice = fetch_notice(options["notice"], portal)
                self.stderr.write(
                    f"Fetched {notice.id} revision {notice.revision} from {portal}; the "
                    "foundation's signature verified."
                )
        except NoticeError as exc:
            raise input_error(str(exc)) from None
        try:
            result = scan_repository(options["repo"], notice)
        except GitError as exc:
            raise input_error(str(exc)) from None
        repository_uri = (notice.document.get("project") or {}).get("repository")
        emit(
            self,
            result,
            options,
            kind="scan",
            repository_uri=repository_uri if isinstance(repository_uri, str) else None,
        )
