"""Processes: the embedded `run`, and `web` / `scheduler` for scale-out."""
