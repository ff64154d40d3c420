"""Plumbing every CRM service shares, written once (DESIGN.md "Shape")."""
