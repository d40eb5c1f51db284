"""How guessable a new password is, by zxcvbn (Dropbox's estimator, maintained on PyPI).

zxcvbn models how crackers actually guess — common passwords, words, names, keyboard
patterns, repeats, dates, and the person's own email and name — and estimates the number
of guesses needed. A password under ``MIN_GUESSES`` is refused with zxcvbn's own words for
why (``password: too easy to guess: This is a top-10 common password.``).

    >>> weakness("correct horse battery", user_inputs=["ada@example.com"]) is None
    True
    >>> weakness("password", user_inputs=[])
    'This is a top-10 common password. Add another word or two. Uncommon words are better.'
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from zxcvbn import zxcvbn

# zxcvbn's score 2 ("somewhat guessable"): 10^6 guesses. With logins throttled to a few
# hundred guesses a day per account, that is years of guessing online.
MIN_GUESSES = 10**6
# zxcvbn's run time grows quickly with length, and 4.5 refuses more than 72 characters:
# the first 72 decide (a password whose first 72 characters are strong is strong).
SCORED_CHARACTERS = 72
FALLBACK_REASON = "Add another word or two. Uncommon words are better."


def weakness(password: str, *, user_inputs: Iterable[str]) -> str | None:
    """Why ``password`` is too easy to guess, or None when it isn't.

    ``user_inputs`` are the account's own words (email, name): a password built from them
    is guessed early, so zxcvbn counts them as a dictionary of their own.
    """
    words = sorted({word for text in user_inputs for word in _words(text)})
    result = zxcvbn(password[:SCORED_CHARACTERS], user_inputs=words)
    if float(result["guesses"]) >= MIN_GUESSES:
        return None
    feedback = result.get("feedback") or {}
    said = [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
    reason = " ".join(part.strip() for part in said if part and part.strip())
    return reason or FALLBACK_REASON


def account_words(email: str, name: str) -> list[str]:
    """What an account's password must not be built from: its own email and name."""
    return [email, name, "podplus"]


def _words(text: str) -> list[str]:
    # "ada.lovelace@example.com" → the whole, and "ada", "lovelace", "example", "com".
    lowered = text.strip().lower()
    if not lowered:
        return []
    return [lowered, *(part for part in re.split(r"[^\w]+", lowered) if len(part) >= 3)]
