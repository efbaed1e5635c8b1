"""`python -m timbrelab …` = the `timbrelab` command."""

import sys

from timbrelab.cli import main

sys.exit(main())
