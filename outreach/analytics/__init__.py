"""Referral traffic: what each won link brings, from analytics exports (GA4, Plausible, Matomo) and their APIs."""
