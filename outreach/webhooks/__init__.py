"""Webhooks: signed POSTs to URLs an admin registers, for replies, bounces, unsubscribes and link alerts."""
