"""Launchers for the real parts the suite runs: PostgreSQL, MLflow server, moto server.

Benchmarks reuse these too, so every real part is started one way only.
"""
