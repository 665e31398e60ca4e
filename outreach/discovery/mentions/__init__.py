"""Unlinked mentions: pages that name the brand or use its images without a link (service),
`discover mentions` (cli)."""
