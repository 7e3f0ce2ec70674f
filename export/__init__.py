"""Thin entry points kept for ``python -m export.quantize`` / ``export.benchmark`` / ``export.golden`` run from
the repository root (the names the product's users know). The code lives in :mod:`ecgnet_tf.export`; this
folder is not installed."""
