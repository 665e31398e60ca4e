"""Outreach email: mailboxes, sandboxed templates, sequences, the outbox, replies, bounces, unsubscribes."""
