"""Outbound HTTP: the destination policy (policy.py) and the one client every outbound call
of the server goes through (client.py)."""
