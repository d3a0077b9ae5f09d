"""The dashboard: headline figures and charts of discovery and governance."""
