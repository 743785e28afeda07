"""``python -m sandbox``: the same as ``shopbot sandbox``."""

import sys

from .cli import main

sys.exit(main())
