"""The people directory: departments and the usernames agents report, imported from CSV."""
