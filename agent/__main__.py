"""`python -m agent` runs the `shadowmap-agent` command."""

import sys

from agent.cli import main

sys.exit(main())
