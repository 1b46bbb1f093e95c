"""``python -m codeloci``: the ``codeloci`` command (the service is started this way)."""

import sys

from codeloci.cli import main

sys.exit(main())
