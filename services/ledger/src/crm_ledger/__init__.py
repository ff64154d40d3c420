"""Ledger service: store credit per customer and currency, rewards and coupons. (HTTP port 8003)"""
