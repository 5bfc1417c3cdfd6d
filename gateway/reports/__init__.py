"""Citizen reports: references, filing, the status lifecycle, duplicates and the STATUS command."""

STATUSES = ("submitted", "acknowledged", "in_progress", "resolved", "closed", "rejected")
