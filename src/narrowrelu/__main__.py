"""``python -m narrowrelu`` is the ``narrowrelu`` command."""

import sys

from .cli import main

sys.exit(main())
