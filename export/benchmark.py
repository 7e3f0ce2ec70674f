"""``python -m export.benchmark`` from the repository root: runs :mod:`ecgnet_tf.export.benchmark`."""
import sys

from ecgnet_tf.export.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
