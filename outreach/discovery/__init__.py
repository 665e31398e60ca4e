"""Finding opportunities: broken links, guest-post targets, unlinked mentions (each a function over a crawl)."""
