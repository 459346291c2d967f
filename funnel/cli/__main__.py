"""`python -m funnel.cli`: the same as the `funnel` script."""

import sys

from funnel.cli.main import main

sys.exit(main())
