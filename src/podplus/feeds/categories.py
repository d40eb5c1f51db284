"""Apple Podcasts' categories and subcategories, the list every directory uses.

Source: Apple Podcasts for Creators, "Apple Podcasts categories"
(https://podcasters.apple.com/support/1691-apple-podcasts-categories), the taxonomy
Apple introduced in 2019 and still lists: 19 categories, 15 of them with subcategories.
The names are written here exactly as they go into ``<itunes:category text="…">``
(with a plain ``&``; the XML writer escapes it). A category may be chosen without a
subcategory; a subcategory belongs to exactly one category.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

APPLE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Arts": (
        "Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts",
    ),
    "Business": (
        "Careers", "Entrepreneurship", "Investing", "Management", "Marketing", "Non-Profit",
    ),
    "Comedy": ("Comedy Interviews", "Improv", "Stand-Up"),
    "Education": ("Courses", "How To", "Language Learning", "Self-Improvement"),
    "Fiction": ("Comedy Fiction", "Drama", "Science Fiction"),
    "Government": (),
    "History": (),
    "Health & Fitness": (
        "Alternative Health", "Fitness", "Medicine", "Mental Health", "Nutrition", "Sexuality",
    ),
    "Kids & Family": ("Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"),
    "Leisure": (
        "Animation & Manga", "Automotive", "Aviation", "Crafts", "Games", "Hobbies",
        "Home & Garden", "Video Games",
    ),
    "Music": ("Music Commentary", "Music History", "Music Interviews"),
    "News": (
        "Business News", "Daily News", "Entertainment News", "News Commentary", "Politics",
        "Sports News", "Tech News",
    ),
    "Religion & Spirituality": (
        "Buddhism", "Christianity", "Hinduism", "Islam", "Judaism", "Religion", "Spirituality",
    ),
    "Science": (
        "Astronomy", "Chemistry", "Earth Sciences", "Life Sciences", "Mathematics",
        "Natural Sciences", "Nature", "Physics", "Social Sciences",
    ),
    "Society & Culture": (
        "Documentary", "Personal Journals", "Philosophy", "Places & Travel", "Relationships",
    ),
    "Sports": (
        "Baseball", "Basketball", "Cricket", "Fantasy Sports", "Football", "Golf", "Hockey",
        "Rugby", "Running", "Soccer", "Swimming", "Tennis", "Volleyball", "Wilderness",
        "Wrestling",
    ),
    "Technology": (),
    "True Crime": (),
    "TV & Film": ("After Shows", "Film History", "Film Interviews", "Film Reviews", "TV Reviews"),
}  # fmt: skip

# The same names as types, built from the table, so a request's JSON Schema lists the
# choices (an enum) and there is one list. The type checker sees plain strings.
if TYPE_CHECKING:
    Category = str
    Subcategory = str
else:
    Category = Literal[tuple(APPLE_CATEGORIES)]
    Subcategory = Literal[tuple(dict.fromkeys(n for ns in APPLE_CATEGORIES.values() for n in ns))]


def subcategory_problem(category: str, subcategory: str | None) -> str | None:
    """Why ``subcategory`` can't go under ``category`` (None when it can).

    >>> subcategory_problem("Arts", "Books"), subcategory_problem("History", None)
    (None, None)
    >>> subcategory_problem("News", "Books")
    'Books is a subcategory of Arts, not of News'
    """
    if category not in APPLE_CATEGORIES:
        return f"{category} is not an Apple Podcasts category"
    if subcategory is None or subcategory in APPLE_CATEGORIES[category]:
        return None
    parent = next((name for name, subs in APPLE_CATEGORIES.items() if subcategory in subs), None)
    if parent is None:
        return f"{subcategory} is not an Apple Podcasts subcategory"
    return f"{subcategory} is a subcategory of {parent}, not of {category}"
