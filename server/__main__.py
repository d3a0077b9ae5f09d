"""`python -m server` runs the `shadowmap` command."""

import sys

from server.cli import main

sys.exit(main())
