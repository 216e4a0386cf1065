"""Notifications: channel adapters, templates, routing and the delivery worker."""
