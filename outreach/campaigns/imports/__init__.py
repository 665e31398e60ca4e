"""CSV imports of prospects: parse, map, check and write rows (service), large files as runs (runs, written by
the tick in jobs), the upload/preview pages (views) and `outreach import` (cli)."""
