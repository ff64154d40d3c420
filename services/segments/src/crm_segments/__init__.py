"""Segments service: dynamic segments, live membership, customer analytics. (HTTP port 8004)"""
