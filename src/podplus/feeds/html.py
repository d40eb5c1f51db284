"""Show notes as the safe HTML a feed carries, and text a feed can hold at all.

Notes are what a creator typed: plain text with blank lines between paragraphs, perhaps
with a few tags or links. They become HTML (paragraphs, line breaks), which ``nh3`` (the
Ammonia sanitiser) then cuts down to the tags Apple Podcasts renders in a description —
``<p> <ol> <ul> <li> <a>`` and a little inline emphasis — with links to http(s) and mailto
only. Scripts, styles, event handlers, ``javascript:`` URLs, iframes and comments never
reach a listener's app.
"""

from __future__ import annotations

import re

import nh3

# Apple Podcasts: "rich text formatting and some HTML (<p>, <ol>, <ul>, <li>, <a>)".
ALLOWED_TAGS = frozenset({"p", "br", "ol", "ul", "li", "a", "b", "strong", "i", "em"})
ALLOWED_ATTRIBUTES = {"a": {"href"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Apple Podcasts reads at most this much of a show's or an episode's description.
MAX_DESCRIPTION_BYTES = 4000

# What XML 1.0 can't hold at all (control characters, U+FFFE/U+FFFF, surrogates).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n\s*")
# Notes that lay themselves out (paragraphs, lists, breaks) keep their own layout.
_LAYOUT_TAG = re.compile(r"<\s*/?\s*(?:p|ul|ol|li|br)\b", re.IGNORECASE)


def xml_text(text: str) -> str:
    """``text`` without the characters an XML document can't contain.

    >>> xml_text("a\\x00b\\ufffe")
    'ab'
    """
    return _NOT_XML.sub("", text)


def notes_html(notes: str) -> str:
    """Show notes as sanitised HTML: paragraphs at blank lines, ``<br>`` at single newlines
    (unless the notes lay themselves out with HTML paragraphs, lists or breaks).

    >>> notes_html("Hi <b>you</b>\\n<script>x()</script>\\n\\nSee <a href='javascript:x'>it</a>")
    '<p>Hi <b>you</b><br></p><p>See <a rel="noopener noreferrer">it</a></p>'
    """
    text = xml_text(notes).replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return ""
    html = text
    if not _LAYOUT_TAG.search(text):
        paragraphs = _PARAGRAPH_BREAK.split(text)
        html = "".join("<p>" + part.strip().replace("\n", "<br>") + "</p>" for part in paragraphs)
    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return xml_text(cleaned)


def description_problem(notes: str) -> str | None:
    """Why ``notes`` can't be a feed's description (too long once it is HTML), or None."""
    size = len(notes_html(notes).encode())
    if size > MAX_DESCRIPTION_BYTES:
        return (
            f"as feed HTML it takes {size} bytes; Apple Podcasts takes at most "
            f"{MAX_DESCRIPTION_BYTES}"
        )
    return None
