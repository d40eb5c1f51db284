"""Podcast publishing, as pure functions: the feed (RSS 2.0 with the ``itunes`` and
``podcast`` namespaces), its chapters, and the rules the directories set for what goes in
it (categories, languages, artwork). Nothing here does I/O or knows about HTTP."""
