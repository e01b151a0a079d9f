"""One aiogram Router per feature; `all_routers()` gives them in the order they are tried."""

from __future__ import annotations

from aiogram import Router

from photobot.bot.telegram.routers import admin, choices, errors, fallback, photos, user_commands


def all_routers() -> list[Router]:
    return [
        errors.build(),
        user_commands.build(),
        admin.build(),
        choices.build(),
        photos.build(),
        fallback.build(),
    ]
