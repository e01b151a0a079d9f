"""CallbackData factories: the inline buttons' payloads, packed and parsed by aiogram."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class OpChoice(CallbackData, prefix="op"):
    """An operation picked for the photo of the message the button sits under."""

    op: str


class OpsPage(CallbackData, prefix="ops"):
    """Another page of the operations keyboard under a waiting photo."""

    page: int


class JobsPage(CallbackData, prefix="jobs"):
    """A page of /jobs, starting at `offset`."""

    offset: int
