"""Scheduler ticks declared as data, and the context a job runs with."""
