"""A show's language, as the directories take it: an ISO 639-1 code with optional
BCP 47 script and region subtags (``en``, ``en-US``, ``pt-BR``, ``zh-Hans``, ``es-419``).

Apple Podcasts takes "values from the ISO 639 list (two-letter language codes, with some
possible modifiers, such as en-us)" and fails a feed with any other; the codes below are
ISO 639-1's (Library of Congress, https://www.loc.gov/standards/iso639-2/php/code_list.php),
without the withdrawn ``iw``, ``in``, ``ji`` and ``mo``.
"""

from __future__ import annotations

import re

_CODES = """
    aa ab ae af ak am an ar as av ay az ba be bg bi bm bn bo br bs ca ce ch co cr cs cu cv
    cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho
    hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku
    kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn
    no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm
    sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi
    vo wa wo xh yi yo za zh zu
"""
ISO_639_1 = frozenset(_CODES.split())
MAX_TAG_CHARS = 11  # "zh-Hant-TW"
_TAG = re.compile(
    r"(?P<language>[A-Za-z]{2})(?:-(?P<script>[A-Za-z]{4}))?(?:-(?P<region>[A-Za-z]{2}|[0-9]{3}))?"
)


def language_tag(raw: str) -> str:
    """The tag in its usual case (``en-us`` → ``en-US``), or ``ValueError`` saying why not.

    >>> language_tag("EN-us"), language_tag("zh-hant-tw"), language_tag("es-419")
    ('en-US', 'zh-Hant-TW', 'es-419')
    """
    match = _TAG.fullmatch(raw) if len(raw) <= MAX_TAG_CHARS else None
    if match is None:
        raise ValueError(
            "must be a language code such as en, en-US or pt-BR (ISO 639-1, then an "
            "optional script and region)"
        )
    language = match["language"].lower()
    if language not in ISO_639_1:
        raise ValueError(f"{language} is not an ISO 639-1 language code")
    tag = language
    if match["script"]:
        tag += "-" + match["script"].title()
    if match["region"]:
        tag += "-" + match["region"].upper()
    return tag
