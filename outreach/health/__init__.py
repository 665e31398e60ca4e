"""Health of a deployment: the scheduler's heartbeat, readiness, Prometheus metrics and the admin's Status page."""
