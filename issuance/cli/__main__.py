"""``python -m issuance.cli``: the same as the ``sscard`` command."""

import sys

from issuance.cli import main

sys.exit(main())
