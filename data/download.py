"""``python -m data.download`` from the repository root: runs :mod:`ecgnet_tf.download`."""
import sys

from ecgnet_tf.download import main

if __name__ == "__main__":
    sys.exit(main())
