"""Objectives, their measures and trends, and the management review pack (HTML, PDF)."""
