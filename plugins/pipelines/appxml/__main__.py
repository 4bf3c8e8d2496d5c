"""``python -m pipelines.appxml``: the staging command line (see ``pipelines.appxml.cli``)."""

import sys

from pipelines.appxml.cli import main

sys.exit(main())
