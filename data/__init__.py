"""Thin entry point kept for ``python -m data.download`` from the repository root; the downloader is
:mod:`ecgnet_tf.data.download`. This folder holds data notes only and is not installed."""
