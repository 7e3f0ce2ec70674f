"""``python -m export.quantize`` from the repository root: runs :mod:`ecgnet_tf.export.quantize`."""
import sys

from ecgnet_tf.export.quantize import main

if __name__ == "__main__":
    sys.exit(main())
