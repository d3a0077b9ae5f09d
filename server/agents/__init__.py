"""Agents: enrollment, enrollment tokens, report ingest (and log import, which ingests the same
way), and the signed catalogue bundles served to agents."""
