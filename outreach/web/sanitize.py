"""Text a browser can send but no database column should hold."""
from __future__ import annotations

from flask import request
from werkzeug.datastructures import ImmutableMultiDict, MultiDict


def _without_nul(values: MultiDict[str, str]) -> ImmutableMultiDict[str, str] | None:
    """A copy without NUL characters, or None when there are none (the common case costs one scan)."""
    if not any("\x00" in key or "\x00" in value for key, value in values.items(multi=True)):
        return None
    return ImmutableMultiDict([(key.replace("\x00", ""), value.replace("\x00", ""))
                               for key, value in values.items(multi=True)])


def strip_nul_characters() -> None:
    """Drop NUL characters from query and form values before any view reads them.

    PostgreSQL refuses a NUL in text ("A string literal cannot contain NUL"), which made a pasted
    or forged NUL a 500 on every form and search box; no field of this app has a use for one, and a
    browser shows none, so the text saved is the text the user saw.
    """
    if request.path.startswith("/api/"):
        return  # the API refuses a NUL with a 400 naming the field instead
    args = _without_nul(request.args)
    if args is not None:
        request.args = args  # type: ignore[misc]
    too_large = request.content_length is not None and request.max_content_length is not None and (
        request.content_length > request.max_content_length)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data") and not too_large:
        # (an upload over the size limit is left for its view to refuse next to the field)
        form = _without_nul(request.form)
        if form is not None:
            request.form = form  # type: ignore[misc]
