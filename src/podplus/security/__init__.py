"""Credentials: password hashing, bearer tokens, and the login throttle."""
