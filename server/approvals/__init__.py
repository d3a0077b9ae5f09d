"""Approval routes by risk: the assessments and sign-offs an entry needs before approval."""
