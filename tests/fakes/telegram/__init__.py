"""The tests' fake Telegram Bot API is photobot's own local Bot API stand-in (it also runs the
sandbox): see photobot.sandbox.botapi for the whole contract. Tests import it from here."""

from photobot.sandbox.botapi import ApiError, BotMessage, CallRecord, FakeTelegram, MessageVersion

__all__ = ["ApiError", "BotMessage", "CallRecord", "FakeTelegram", "MessageVersion"]
