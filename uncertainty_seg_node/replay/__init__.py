"""Offline (bag replay) and live evaluation, reports, baseline comparison, frame ranking."""
