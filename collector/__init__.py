"""Shadowmap's collector: ingests agent reports and deduplicates them into the draft inventory."""
