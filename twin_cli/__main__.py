"""``python -m twin_cli``: the same command line as ``twin``."""

import sys

from twin_cli.main import main

sys.exit(main())
