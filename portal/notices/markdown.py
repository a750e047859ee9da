"""Guidance is Markdown typed by caseworkers and shown to everyone: rendered, then sanitised."""

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

# Raw HTML in the source is shown as text, never passed through; links only to http(s) and mail.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")
_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h1", "h2", "h3", "h4", "hr",
}  # fmt: skip


def render_guidance(text: str) -> SafeString:
    html = _MARKDOWN.render(text or "")
    # SECURITY: belt and braces: nh3 keeps only the tags above, drops every attribute but a
    # link's href, and only http, https and mailto URLs; every link gets rel="noopener noreferrer".
    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # noqa: S308 - sanitised by nh3 just above
