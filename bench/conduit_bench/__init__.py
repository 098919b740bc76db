"""Benchmark harness for the Conduit API server (see bench/README.md)."""
