"""Knowing, every minute, that replication works: the `verify` round trip and the metrics scrape.

`diagnose` judges a state at one moment; this layer proves a fresh write reaches the replica
(verify.py) and turns cheap, cached diagnoses into gauges for Prometheus (metrics.py). It sits
beside gate/: it reads through diagnose/ and replicas/, and only the CLI renders its results.
"""
