"""Webhooks: endpoints that receive signed inventory and register events, and their delivery."""
