"""Customers service (HTTP port 8001)."""
