"""What the scrutiny commands can report: the rules, and one finding."""

from dataclasses import dataclass, field

ERROR = "error"
WARNING = "warning"
NOTE = "note"
# Notes inform; errors and warnings are what a reviewer must look at (and set the exit code).
FLAGGING_LEVELS = frozenset({ERROR, WARNING})


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    level: str
    summary: str
    help: str


RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule(
            "unauthorised-identity",
            "UnauthorisedIdentity",
            ERROR,
            "Commit by an author or committer the notice does not authorise",
            "The notice lists who may commit during the handover window. Someone else authored "
            "or committed this change: find out who they are and review the change line by line.",
        ),
        Rule(
            "foreign-change",
            "ForeignChange",
            WARNING,
            "Authorised committer carrying a change written by someone else",
            "An authorised identity committed a change authored by, or co-authored with, "
            "someone the notice does not authorise. Review it as if that person committed it.",
        ),
        Rule(
            "build-system",
            "BuildSystemChange",
            WARNING,
            "Change to the build system",
            "Build scripts and macros run on every machine that builds the project; the xz "
            "backdoor was injected through one. A single stray character can disable a check.",
        ),
        Rule(
            "ci-fuzzing",
            "CiOrFuzzingChange",
            WARNING,
            "Change to CI or fuzzing configuration",
            "Disabling a fuzzer or a CI check hides what it would have caught.",
        ),
        Rule(
            "security-policy",
            "SecurityPolicyChange",
            WARNING,
            "Change to security policy, contacts or maintainer lists",
            "Redirecting security reports or adding oneself to a maintainer list is a step "
            "towards control of the project.",
        ),
        Rule(
            "ignore-file",
            "IgnoreFileChange",
            WARNING,
            "New patterns in an ignore or attributes file",
            "An ignore entry can keep a build input out of git while it ships in the release "
            "tarball; export-ignore and diff attributes hide files from archives and reviews.",
        ),
        Rule(
            "binary-file",
            "BinaryFile",
            WARNING,
            "Binary file added or replaced",
            "Binary files cannot be reviewed as text; the xz payload hid in binary test files. "
            "Binary files under test directories are reported as errors.",
        ),
        Rule(
            "signature",
            "Signature",
            WARNING,
            "Missing, unexpected or invalid signature",
            "The notice names the key each identity signs with. A missing signature, a "
            "signature by another key, or one that does not verify needs an explanation.",
        ),
        Rule(
            "unauthorised-release",
            "UnauthorisedRelease",
            ERROR,
            "Tag made in the window by someone the notice does not authorise to release",
            "Only identities the notice authorises to release may tag during the window.",
        ),
        Rule(
            "tag-in-window",
            "TagInWindow",
            NOTE,
            "Tag made during the handover window",
            "Releases made during a handover window deserve extra scrutiny; compare them with "
            "the releases the notice lists.",
        ),
        Rule(
            "identity-name-differs",
            "IdentityNameDiffers",
            NOTE,
            "Authorised email used with another name",
            "Identities are matched on email address; names are shown for people but never "
            "authorise anything.",
        ),
        Rule(
            "tarball-extra-file",
            "TarballExtraFile",
            ERROR,
            "File in the release tarball that is not in the tagged tree",
            "Files generated for a release (configure, Makefile.in, *.m4) are where the xz "
            "backdoor lived. Regenerate them yourself and compare, or review them by hand.",
        ),
        Rule(
            "tarball-modified-file",
            "TarballModifiedFile",
            ERROR,
            "File in the release tarball that differs from the tagged tree",
            "The tarball does not ship what the tag holds for this path.",
        ),
        Rule(
            "tarball-unsafe-member",
            "TarballUnsafeMember",
            ERROR,
            "Link, device file, absolute or parent-directory path in the tarball",
            "Such members can write outside the extraction directory or point at files that "
            "are not part of the release.",
        ),
        Rule(
            "tarball-missing-file",
            "TarballMissingFile",
            NOTE,
            "File in the tagged tree that is not in the tarball",
            "Often deliberate (export-ignore); listed so nothing is left out unnoticed.",
        ),
    )
}


@dataclass
class Finding:
    rule: str
    level: str
    message: str
    commit: str | None = None
    path: str | None = None
    ref: str | None = None
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "rule": self.rule,
            "level": self.level,
            "message": self.message,
            "commit": self.commit,
            "path": self.path,
            "ref": self.ref,
            "details": self.details,
        }
