"""The JSON API under /api/v1: bearer-token auth, the same services as the web, an OpenAPI document."""
