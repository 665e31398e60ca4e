"""Framework-free helpers shared by every part: clock, URLs, the guarded fetcher, HTML."""
