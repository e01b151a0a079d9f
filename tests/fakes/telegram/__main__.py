"""``python -m tests.fakes.telegram``: the same as ``python -m photobot.sandbox.botapi``."""

import sys

from photobot.sandbox.botapi.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
