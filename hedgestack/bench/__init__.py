"""Benchmarks run as commands (``hedgestack bench ...``), never as timed tests."""
