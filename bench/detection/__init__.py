"""Measure detection on a labelled set of real extensions and hostnames (``python -m
bench.detection``): lay each item out as the endpoint holds it, run the agent's real scanners
and runner (and the capture's DNS judge), and write recall and false positives to
``docs/detection.md``."""
