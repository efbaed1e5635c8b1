"""Shared machine-learning ground: one checkpoint format, one training loop, the model registry.

Knows nothing of any capability: models say how they are saved and loaded (``to_checkpoint`` /
``from_checkpoint``), and the registry finds their loader in the weights manifest.
"""
