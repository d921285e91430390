"""`python -m mimdesk`: the same as the `mimdesk` command."""

import sys

from mimdesk.cli import main

sys.exit(main())
