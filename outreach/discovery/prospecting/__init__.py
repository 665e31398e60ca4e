"""Prospecting runs: site walks, footprint searches and contact finds for a campaign (service),
its tab (views, forms) and the worker ticks (jobs)."""
