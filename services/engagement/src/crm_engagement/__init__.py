"""Engagement service: e-mail to customers and segments: templates, consent, frequency limits,
campaigns, automations, one-click unsubscribe. (HTTP port 8005)"""
