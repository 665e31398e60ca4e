"""Backlinks: verification, the link ledger, monitoring and alerts."""
