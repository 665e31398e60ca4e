"""Broken-link building: crawl sites for dead links (service), the campaign page (views),
`discover broken-links` (cli)."""
