"""The draft inventory: items found on endpoints, their evidence, and triage of each item
(assign, comment, state changes, merge, promotion to the register, suppressions)."""
