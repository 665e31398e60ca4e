"""In-app notifications: one row per alert and user, an unread badge, a page and an API."""
