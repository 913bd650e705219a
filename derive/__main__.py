"""``python -m derive`` runs the nnderive command line."""

import sys

from .cli import main

sys.exit(main())
