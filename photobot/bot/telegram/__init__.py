"""Telegram through aiogram 3: the adapter, routers, middlewares and the confirm-after-handling poller."""
