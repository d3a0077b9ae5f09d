"""Hosts: the endpoints that report, whether they still do, and what was found on each."""
