"""python manage.py scrutinize-tarball TARBALL REPO --tag vX.Y.Z"""

from django.core.management.base import BaseCommand

from portal.scrutiny.gitscan import GitError
from portal.scrutiny.management.commands._common import (
    add_output_arguments,
    emit,
    input_error,
)
from portal.scrutiny.tarball import (
    MAX_MEMBERS,
    MAX_TOTAL_BYTES,
    TarballError,
    scrutinize_tarball,
)


class Command(BaseCommand):
    help = (
        "List the files of a release tarball (.tar, .tar.gz, .tar.bz2, .tar.xz) that are not "
        "in the tagged tree or differ from it, and any link, device file, absolute or '..' "
        "path. Never extracts the tarball. Exit status: 0 nothing flagged, 1 something "
        "flagged, 2 usage or input error."
    )
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("tarball", help="The release tarball.")
        parser.add_argument("repo", help="Path to the repository (work tree or bare).")
        parser.add_argument(
            "--tag", required=True, help="The tag the release was made from."
        )
        parser.add_argument(
            "--max-members",
            type=int,
            default=MAX_MEMBERS,
            help=f"Refuse tarballs with more members (default {MAX_MEMBERS}).",
        )
        parser.add_argument(
            "--max-bytes",
            type=int,
            default=MAX_TOTAL_BYTES,
            help=f"Refuse tarballs holding more bytes of files (default {MAX_TOTAL_BYTES}).",
        )
        add_output_arguments(parser)

    def handle(self, *args, **options):
        if options["max_members"] < 1 or options["max_bytes"] < 1:
            raise input_error("--max-members and --max-bytes must be positive.")
        try:
            result = scrutinize_tarball(
                options["tarball"],
                options["repo"],
                options["tag"],
                max_members=options["max_members"],
                max_total_bytes=options["max_bytes"],
            )
        except (GitError, TarballError) as exc:
            raise input_error(str(exc)) from None
        emit(self, result, options, kind="tarball")
