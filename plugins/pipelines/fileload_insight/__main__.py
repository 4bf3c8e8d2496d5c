"""``python -m pipelines.fileload_insight``: see ``pipelines.fileload_insight.cli``."""

import sys

from pipelines.fileload_insight.cli import main

sys.exit(main())
