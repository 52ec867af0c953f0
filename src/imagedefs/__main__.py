"""`python -m imagedefs`: the command line."""

import sys

from imagedefs.cli import main

sys.exit(main())
