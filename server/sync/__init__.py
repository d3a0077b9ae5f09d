"""Incremental sync of the inventory and the register for other systems (change feeds)."""
