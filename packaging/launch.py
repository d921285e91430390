"""The bundle's entry point: the same as the `mimdesk` command."""

import sys

from mimdesk.cli import main

sys.exit(main())
