"""What a file on a case may be: checked by its bytes, never by its name or the browser's word."""

import re
import unicodedata

# (content type, extension) by leading bytes. Everything else is refused.
_SIGNATURES = [
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"GIF87a", "image/gif", "gif"),
    (b"GIF89a", "image/gif", "gif"),
]
ALLOWED_DESCRIPTION = "PDF, PNG, JPEG, GIF or plain text"


class UploadRefused(ValueError):
    pass


def sniff(data: bytes) -> tuple[str, str]:
    """Return (content type, extension) for allowed content, or raise UploadRefused."""
    for magic, content_type, extension in _SIGNATURES:
        if data.startswith(magic):
            return content_type, extension
    if _is_plain_text(data):
        return "text/plain", "txt"
    raise UploadRefused(
        f"This kind of file cannot be attached. Attach a {ALLOWED_DESCRIPTION} file."
    )


def _is_plain_text(data: bytes) -> bool:
    if not data or b"\x00" in data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    # HTML, SVG and XML are text but dangerous if anything ever rendered them. Browsers sniff a
    # document as markup when it starts with a tag, a comment or a processing instruction, so any
    # text whose first non-blank character opens one is refused.
    if re.match(r"<[A-Za-z!?/]", text.lstrip("\ufeff \t\r\n\f")):
        return False
    return all(ch.isprintable() or ch in "\t\r\n\f" for ch in text[:65536])


def clean_filename(name: str, extension: str) -> str:
    """A safe display name: no path, no control characters, the extension of the real content."""
    name = (
        unicodedata.normalize("NFKC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    )
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = re.sub(r"[^\w\- ]+", "_", stem, flags=re.UNICODE).strip(" ._")[:100]
    return f"{stem or 'attachment'}.{extension}"
