"""The web face shared by every part: app factory, session per request, access checks, layout."""
