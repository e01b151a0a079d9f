"""The operations keyboard, laid out once for every chat platform.

VK's inline keyboard holds at most 10 buttons, 5 to a row, in 6 rows; Telegram's holds far more.
One layout fits both: a page shows at most eight operations in rows of three, the most used ones
first, and one row below with "‹ Back" and "More ›" to the other pages (at most 10 buttons and 4
rows on every page). Each platform's adapter only renders `Keyboard` into its own markup; a page
button carries the page it opens, and `subject` is the user's photo message the choice is about,
for platforms whose buttons cannot point at the message they sit under (VK's payload).
"""

from __future__ import annotations

from photobot.bot.adapter import Button, Keyboard
from photobot.bot.i18n import t
from photobot.processing import Operation, list_operations

PER_PAGE = 8
PER_ROW = 3
PAGE_ACTION = "ops_page"
# Shown on the first page, in this order; every other operation follows in the registry's order.
MOST_USED = ("sepia", "grayscale", "enhance", "blur", "faces_blur", "faces_detect", "pixelate", "invert")


def ordered_operations() -> list[Operation]:
    """Every operation, the most used first."""
    operations = list_operations()
    rank = {name: index for index, name in enumerate(MOST_USED)}
    return sorted(operations, key=lambda op: rank.get(op.name, len(rank)))


def page_count() -> int:
    return max(1, -(-len(list_operations()) // PER_PAGE))


def operations_keyboard(language: str, page: int = 0, *, subject: int | None = None) -> Keyboard:
    """Page `page` (clamped to the pages there are) of the operations, with its paging row."""
    pages = page_count()
    page = min(max(page, 0), pages - 1)
    shown = ordered_operations()[page * PER_PAGE : (page + 1) * PER_PAGE]
    buttons = [Button(op.title(language), "op", op.name) for op in shown]
    rows: list[list[Button]] = [buttons[i : i + PER_ROW] for i in range(0, len(buttons), PER_ROW)]
    paging: list[Button] = []
    if page > 0:
        paging.append(Button(t("ops_back", language), PAGE_ACTION, str(page - 1)))
    if page < pages - 1:
        paging.append(Button(t("ops_more", language), PAGE_ACTION, str(page + 1)))
    if paging:
        rows.append(paging)
    return Keyboard(rows=rows, subject=subject)
