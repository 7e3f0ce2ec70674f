"""``python -m export.reference_models`` from the repository root: runs :mod:`ecgnet_tf.export.reference_models`."""
import sys

from ecgnet_tf.export.reference_models import main

if __name__ == "__main__":
    sys.exit(main())
