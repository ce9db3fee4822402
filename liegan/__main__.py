"""`python -m liegan ...` (and `torchrun -m liegan train ...`) run the CLI."""

import sys

from liegan.cli import main

sys.exit(main())
