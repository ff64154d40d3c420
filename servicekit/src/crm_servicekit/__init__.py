"""Plumbing every CRM service shares, written once (README.md "Architecture")."""
