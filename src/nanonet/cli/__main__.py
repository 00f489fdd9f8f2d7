"""``python -m nanonet.cli``: the ``nanonet`` command."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
