"""Benchmarks with their recorded results (bench/results/*.json, bench/README.md)."""
