"""`outreach web --workers N`: the app under gunicorn, N processes with threads each.

Each worker builds its own app (nothing is preloaded in the master), so no database connection or
thread crosses a fork. The app writes the access log itself (outreach.web.requests), the same line
under waitress and gunicorn, so gunicorn's own access log stays off.
"""
from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class OutreachServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, config_path: str | None, options: dict[str, Any]) -> None:
        self.config_path = config_path
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from outreach import create_app

        return create_app(config_path=self.config_path)


def serve(config_path: str | None, host: str, port: int, workers: int, threads: int) -> None:
    """Serve until SIGTERM or SIGINT (gunicorn lets each worker finish its requests first)."""
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    OutreachServer(config_path, {
        "bind": [bind], "workers": workers, "threads": threads, "worker_class": "gthread",
        "proc_name": "outreach-web", "accesslog": None, "errorlog": "-", "loglevel": "info",
        "graceful_timeout": 30, "timeout": 120, "preload_app": False,
        # X-Forwarded-Proto is the app's to judge ([web] proxy_hops), not gunicorn's (which trusts loopback)
        "secure_scheme_headers": {},
    }).run()
