"""``python -m pipelines.xml_mapping``: see ``cli``."""

import sys

from pipelines.xml_mapping.cli import main

sys.exit(main())
