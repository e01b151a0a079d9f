"""Chaos tests: photobot as real processes under crashes, outages, 429 storms, floods and a cluster."""
