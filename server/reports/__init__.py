"""Scheduled discovery reports for leadership: figures, charts, HTML/PDF/CSV rendering,
delivery (email, webhook, folder), run claims and the persisted schedule."""
