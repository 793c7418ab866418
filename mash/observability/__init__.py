"""Logs and metrics, kept free of personal data."""
