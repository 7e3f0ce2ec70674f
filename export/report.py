"""``python -m export.report`` from the repository root: runs :mod:`ecgnet_tf.export.report`."""
import sys

from ecgnet_tf.export.report import main

if __name__ == "__main__":
    sys.exit(main())
