"""Clients, campaigns, prospects, the pipeline board, the timeline, CSV import and export."""
