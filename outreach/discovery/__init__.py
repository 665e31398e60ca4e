"""Finding opportunities, one package per feature: broken_links, guest_posts, mentions (each a function over a
crawl) and prospecting (the runs that walk sites, search footprints and find contacts for a campaign).

Shared by the features: `site_walk` (the walker), `scoring` (relevance) and `search` (footprint search providers).
"""
