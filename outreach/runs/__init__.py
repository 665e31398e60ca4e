"""Runs: every long job (crawl, prospecting walk, footprint search, ...) shares one lifecycle and one loop."""
