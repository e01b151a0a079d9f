"""photobot: a Telegram and VK photo bot with an integrated Redis priority job queue."""

__version__ = "0.1.0"
