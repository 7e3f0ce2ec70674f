"""``python -m export.inspect`` from the repository root: runs :mod:`ecgnet_tf.export.inspect`."""
import sys

from ecgnet_tf.export.inspect import main

if __name__ == "__main__":
    sys.exit(main())
