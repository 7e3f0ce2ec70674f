"""``python -m export.golden`` from the repository root: runs :mod:`ecgnet_tf.export.golden`."""
import sys

from ecgnet_tf.export.golden import main

if __name__ == "__main__":
    sys.exit(main())
