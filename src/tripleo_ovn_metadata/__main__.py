"""Allow ``python -m tripleo_ovn_metadata``."""

import sys

from tripleo_ovn_metadata.cli import main

sys.exit(main())
