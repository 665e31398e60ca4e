"""Client reports: HTML, CSV, PDF, charts and shareable links."""
