"""What the two scrutiny commands share: output, exit status, error handling."""

import sys
from pathlib import Path

from django.core.management.base import CommandError

from portal.scrutiny.report import FORMATS, render

# 0 nothing flagged, 1 something flagged, 2 usage or input error.
EXIT_CLEAN = 0
EXIT_FLAGGED = 1
EXIT_INPUT = 2


def add_output_arguments(parser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text for people (default), json, or sarif (SARIF 2.1.0 for code-scanning tools).",
    )
    parser.add_argument(
        "--output",
        metavar="FILE",
        help="Write the report to FILE instead of standard output.",
    )


def input_error(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_INPUT)


def emit(
    command, result, options, *, kind: str, repository_uri: str | None = None
) -> None:
    """Write the report, then end with status 1 when anything was flagged."""
    text = render(result, options["format"], kind=kind, repository_uri=repository_uri)
    if options.get("output"):
        try:
            Path(options["output"]).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise input_error(
                f"Cannot write {options['output']}: {exc.strerror}."
            ) from None
    else:
        command.stdout.write(text, ending="")
    if result.flagged:
        command.stdout.flush()
        sys.exit(EXIT_FLAGGED)
