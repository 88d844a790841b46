"""``python -m relmas`` is the ``relmas`` command."""
import sys

from relmas.cli import main

sys.exit(main())
