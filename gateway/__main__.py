"""`python -m gateway` is `gateway`; `gateway run` starts its children this way, same Python."""

import sys

from gateway.cli import main

sys.exit(main())
