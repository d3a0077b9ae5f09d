"""JSON API routes: thin handlers over the collector."""
