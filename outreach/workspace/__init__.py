"""Workspace settings an admin changes in the app (the config file gives their defaults)."""
