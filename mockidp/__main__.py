"""``python -m mockidp``: the same as the ``mockidp`` command."""

import sys

from .cli import main

sys.exit(main())
