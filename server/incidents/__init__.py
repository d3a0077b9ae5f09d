"""The AI incident register; an incident sends its entry back to review."""
