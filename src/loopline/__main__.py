"""``python -m loopline``: the same as the ``loopline`` command."""

import sys

from .cli import main

sys.exit(main())
