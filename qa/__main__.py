"""``python -m qa`` is the ``qa`` command."""

import sys

from .interfaces.cli import main

sys.exit(main())
