"""`python -m photobot ...`: see photobot.cli."""

from photobot.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
