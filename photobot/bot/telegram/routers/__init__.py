"""One aiogram Router per feature; `all_routers()` gives them in the order they are tried."""

from __future__ import annotations

from aiogram import Router

from photobot.bot.telegram.routers import choices, commands, errors, fallback, payments, photos


def all_routers() -> list[Router]:
    return [
        errors.build(),
        payments.build(),
        commands.build(),
        choices.build(),
        photos.build(),
        fallback.build(),
    ]
