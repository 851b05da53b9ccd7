"""``python -m spermtrack.cli``: the ``spermtrack`` command."""

import sys

from spermtrack.cli import main

sys.exit(main())
