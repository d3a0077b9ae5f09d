"""Training records and coverage per department."""
