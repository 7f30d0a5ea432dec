"""Metrics: lazy encoders, embedding cache, metric families and the scoring engine.

Nothing here imports torch at module import time; families and encoders resolve through registries.
"""
