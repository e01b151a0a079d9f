"""Every text a chat user sees, in English and Russian, chosen by the user's language code.

Texts live in one table so that a missing translation is a test failure, not a surprise in a chat.
Templates use `str.format` fields; values that come from users are escaped by the caller (messages
are sent as plain text, without a parse mode, so nothing needs escaping here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LANGUAGES = ("en", "ru")
# Language codes whose speakers get the Russian texts.
_RUSSIAN_CODES = frozenset({"ru"})

TEXTS: Mapping[str, Mapping[str, str]] = {
    "start": {
        "en": "Hi! Send me a photo (or an image as a file for full quality) and choose what to do "
        "with it: filters, face detection, face blur and more. /help tells how.",
        "ru": "Привет! Пришлите фото (или картинку файлом, чтобы сохранить качество) и выберите, "
        "что с ним сделать: фильтры, поиск лиц, размытие лиц и другое. Подробнее: /help.",
    },
    "help": {
        "en": "How to use me:\n"
        "• send a photo and pick an operation on the buttons;\n"
        '• or name it in the caption, e.g. "sepia" or "faces_blur";\n'
        "• an album becomes one job per photo.\n\n"
        "Commands:\n/ops: the operations\n/jobs: your recent jobs\n/status ID: one job\n"
        "/cancel ID: cancel a waiting job\n/tier: your tier and what is left today\n"
        "/premium: more photos and a faster queue (/terms, /paysupport)\n"
        "/token: a token for the HTTP API (in a private chat)\n/logout: revoke your tokens\n"
        "/forget: delete your stored photos and results now\n\n"
        "Limits: files up to {max_mb} MB, {flood_limit} photos per {flood_window} s, "
        "{pending_cap} unfinished jobs at a time.",
        "ru": "Как пользоваться:\n"
        "• пришлите фото и выберите операцию кнопкой;\n"
        "• или напишите её в подписи, например «сепия» или «faces_blur»;\n"
        "• альбом — это по заданию на каждое фото.\n\n"
        "Команды:\n/ops — операции\n/jobs — ваши последние задания\n/status ID — одно задание\n"
        "/cancel ID — отменить ожидающее задание\n/tier — ваш тариф и остаток на сегодня\n"
        "/premium — больше фото и быстрая очередь (/terms, /paysupport)\n"
        "/token — токен для HTTP API (в личном чате)\n/logout — отозвать ваши токены\n"
        "/forget — удалить ваши сохранённые фото и результаты сейчас\n\n"
        "Ограничения: файлы до {max_mb} МБ, {flood_limit} фото за {flood_window} с, "
        "не более {pending_cap} незавершённых заданий.",
    },
    "admin_help": {
        "en": "Admin: /stats, /requeue ID|failed, /tier USER_ID TIER, /ban USER_ID, /unban USER_ID, /job ID, "
        "/forget USER_ID (a banned user's files).",
        "ru": "Администратору: /stats, /requeue ID|failed, /tier USER_ID ТАРИФ, /ban USER_ID, "
        "/unban USER_ID, /job ID, /forget USER_ID (файлы заблокированного).",
    },
    "ops_header": {
        "en": "Operations and their parameters, default (allowed). Name one in a caption, "
        "e.g. “blur 5” or “resize max_side=800”, or pick a button:",
        "ru": "Операции и их параметры, по умолчанию (допустимо). Напишите операцию в подписи, "
        "например «blur 5» или «resize max_side=800», или выберите кнопкой:",
    },
    "forgotten": {
        "en": "Deleted: {files} stored files (your photos and results); waiting jobs were cancelled.",
        "ru": "Удалено сохранённых файлов (ваших фото и результатов): {files}; ожидающие задания отменены.",
    },
    "user_forgotten": {
        "en": "Deleted {files} stored files of {user}.",
        "ru": "Удалено сохранённых файлов пользователя {user}: {files}.",
    },
    "forget_not_banned": {
        "en": "{user} is not banned; users delete their own files with /forget.",
        "ru": "{user} не заблокирован; свои файлы пользователи удаляют сами командой /forget.",
    },
    "choose_op": {"en": "What should I do with this photo?", "ru": "Что сделать с этим фото?"},
    "ops_more": {"en": "More ›", "ru": "Ещё ›"},
    "ops_back": {"en": "‹ Back", "ru": "‹ Назад"},
    "queued": {
        "en": "⏳ Queued, position {position}. Job {job_id}",
        "ru": "⏳ В очереди, позиция {position}. Задание {job_id}",
    },
    "queued_retry": {
        "en": "⏳ Waiting for another try. Job {job_id}",
        "ru": "⏳ Ждёт повторной попытки. Задание {job_id}",
    },
    "processing": {"en": "⚙️ Processing: {operation}…", "ru": "⚙️ Обрабатываю: {operation}…"},
    "done": {"en": "✅ {operation}", "ru": "✅ {operation}"},
    "faces_found": {
        "en": "✅ {operation}: faces found: {count}",
        "ru": "✅ {operation}: найдено лиц: {count}",
    },
    "failed": {"en": "❌ {message}", "ru": "❌ {message}"},
    "internal_error": {
        "en": "❌ Something went wrong on our side. Job {job_id}; please try again later.",
        "ru": "❌ Что-то пошло не так на нашей стороне. Задание {job_id}; попробуйте позже.",
    },
    "update_failed": {
        "en": "Sorry, I could not handle that. Please try again.",
        "ru": "Извините, не получилось это обработать. Попробуйте ещё раз.",
    },
    "too_big": {
        "en": "This file is too large: the limit is {max_mb} MB.",
        "ru": "Файл слишком большой: предел — {max_mb} МБ.",
    },
    "not_image": {
        "en": "Please send a photo or an image file (JPEG, PNG, WebP…).",
        "ru": "Пришлите фото или файл с картинкой (JPEG, PNG, WebP…).",
    },
    "not_understood": {"en": "Send me a photo, or see /help.", "ru": "Пришлите фото или загляните в /help."},
    "unknown_command": {
        "en": "I do not know the command {command}. See /help.",
        "ru": "Я не знаю команды {command}. Загляните в /help.",
    },
    "bad_button": {
        "en": "I did not understand that button; send the photo again, or see /help.",
        "ru": "Я не понял эту кнопку; пришлите фото ещё раз или загляните в /help.",
    },
    "flood": {
        "en": "You are sending photos too fast: up to {limit} per {window} s. "
        "I skip the extra ones; please wait a little.",
        "ru": "Слишком много фото подряд: не больше {limit} за {window} с. "
        "Лишние я пропускаю; подождите немного.",
    },
    "banned": {"en": "Sorry, you cannot use this bot.", "ru": "Извините, вам недоступен этот бот."},
    "pending_cap": {
        "en": "You already have {cap} unfinished jobs; send more when some are done.",
        "ru": "У вас уже {cap} незавершённых заданий; присылайте ещё, когда часть будет готова.",
    },
    # --- quotas and premium ------------------------------------------------------------------------
    "quota_reached": {
        "en": "You have used your {limit} photos of the last 24 hours; the next one is possible in {wait}.",
        "ru": "Вы использовали свои {limit} фото за последние 24 часа; следующее можно через {wait}.",
    },
    "quota_premium_hint": {
        "en": "Premium gives {quota} photos a day and a faster queue: /premium",
        "ru": "Премиум даёт {quota} фото в сутки и быструю очередь: /premium",
    },
    "wait_hours": {"en": "{hours} h {minutes} min", "ru": "{hours} ч {minutes} мин"},
    "wait_minutes": {"en": "{minutes} min", "ru": "{minutes} мин"},
    "allowance_left": {
        "en": "Photos left for the last 24 hours: {left} of {limit}.",
        "ru": "Осталось фото на последние 24 часа: {left} из {limit}.",
    },
    "allowance_next": {"en": "The next one comes back in {wait}.", "ru": "Следующее вернётся через {wait}."},
    "allowance_unlimited": {"en": "Photos: no daily limit.", "ru": "Фото: без дневного предела."},
    "premium_until": {"en": "Premium until {until} UTC.", "ru": "Премиум до {until} UTC."},
    "premium_ended": {"en": "Premium ended {until} UTC.", "ru": "Премиум закончился {until} UTC."},
    "premium_offer": {
        "en": "⭐ Premium: {quota} photos a day instead of {free_quota}, and your photos go ahead of "
        "the free queue.\nPrice: {price} Stars for {days} days. /terms says what you buy.",
        "ru": "⭐ Премиум: {quota} фото в сутки вместо {free_quota}, и ваши фото обрабатываются раньше "
        "бесплатной очереди.\nЦена: {price} звёзд за {days} дн. Что вы покупаете — в /terms.",
    },
    "premium_subscribe": {
        "en": "⭐ Subscribe: {price} Stars a month",
        "ru": "⭐ Подписка: {price} звёзд в месяц",
    },
    "premium_invoice_title": {"en": "Premium for {days} days", "ru": "Премиум на {days} дн."},
    "premium_invoice_text": {
        "en": "{quota} photos a day and a faster queue for {days} days.",
        "ru": "{quota} фото в сутки и быстрая очередь на {days} дн.",
    },
    "premium_not_sold": {
        "en": "Premium is not sold here; an admin can grant it.",
        "ru": "Премиум здесь не продаётся; его может выдать администратор.",
    },
    "premium_vk": {
        "en": "Premium is bought with Telegram Stars in photobot's Telegram bot; here, in VK, an admin "
        "grants it.",
        "ru": "Премиум покупается за звёзды Telegram в боте photobot в Telegram; здесь, во ВКонтакте, "
        "его выдаёт администратор.",
    },
    "checkout_stale": {
        "en": "This offer is no longer valid; send /premium for the current one.",
        "ru": "Это предложение больше не действует; отправьте /premium, чтобы получить новое.",
    },
    "checkout_foreign": {
        "en": "This invoice was made for another user; send /premium for your own.",
        "ru": "Этот счёт выставлен другому пользователю; отправьте /premium, чтобы получить свой.",
    },
    "payment_thanks": {
        "en": "Thank you! Premium is yours until {until} UTC.",
        "ru": "Спасибо! Премиум ваш до {until} UTC.",
    },
    "payment_unmatched": {
        "en": "Your payment {charge_id} arrived, but it does not match any offer of mine, so nothing "
        "was granted. Send /paysupport: it will be refunded.",
        "ru": "Ваш платёж {charge_id} получен, но не подходит ни к одному моему предложению, поэтому "
        "ничего не выдано. Напишите /paysupport: платёж вернут.",
    },
    "paysupport": {
        "en": "Payment support: {support}\nYour recent payments: {payments}",
        "ru": "Поддержка по платежам: {support}\nВаши последние платежи: {payments}",
    },
    "paysupport_none": {"en": "none", "ru": "нет"},
    "terms": {
        "en": "Terms. photobot sells premium: for {days} days, {quota} photos a day instead of {free_quota} "
        "and your photos ahead of the free queue. Price: {price} Telegram Stars, or the same each month "
        "as a subscription that renews until you cancel it in Telegram (a cancelled one runs to its "
        "end). Premium starts at once and extends an active one. Refunds: /paysupport.",
        "ru": "Условия. photobot продаёт премиум: на {days} дн. — {quota} фото в сутки вместо {free_quota} "
        "и ваши фото раньше бесплатной очереди. Цена: {price} звёзд Telegram, или столько же каждый "
        "месяц по подписке, которая продлевается, пока вы не отмените её в Telegram (отменённая "
        "действует до конца срока). Премиум начинается сразу и продлевает действующий. Возврат: /paysupport.",
    },
    "refund_done": {
        "en": "Refunded {stars} Stars of payment {charge_id} to {user}. {premium}",
        "ru": "Возвращено {stars} звёзд платежа {charge_id} пользователю {user}. {premium}",
    },
    "refund_unknown": {"en": "No payment {charge_id}.", "ru": "Платежа {charge_id} нет."},
    "refund_already": {
        "en": "Payment {charge_id} is already refunded.",
        "ru": "Платёж {charge_id} уже возвращён.",
    },
    "refund_refused": {
        "en": "Telegram refused the refund of {charge_id}: {reason}",
        "ru": "Telegram отказал в возврате {charge_id}: {reason}",
    },
    "refund_needs_telegram": {
        "en": "Refunds go through Telegram, which this process does not run.",
        "ru": "Возврат идёт через Telegram, а этот процесс с ним не работает.",
    },
    "premium_none": {"en": "No premium now.", "ru": "Премиума сейчас нет."},
    "grant_done": {
        "en": "User {user}: {premium}",
        "ru": "Пользователь {user}: {premium}",
    },
    "admin_help_premium": {
        "en": "Premium: /grant USER_ID DAYS (0 ends it), /refund CHARGE_ID.",
        "ru": "Премиум: /grant USER_ID ДНИ (0 — закончить), /refund CHARGE_ID.",
    },
    "stats_tiers": {
        "en": "refused over quota today: {refused}\nactive premium users: {premium}",
        "ru": "отказано сверх квоты сегодня: {refused}\nактивных премиум-пользователей: {premium}",
    },
    "button_expired": {"en": "This button has expired.", "ru": "Эта кнопка устарела."},
    "choice_expired": {
        "en": "This photo waited too long; please send it again.",
        "ru": "Это фото ждало слишком долго; пришлите его ещё раз.",
    },
    "already_queued": {"en": "Already chosen: job {job_id}.", "ru": "Уже выбрано: задание {job_id}."},
    "unknown_operation": {"en": "Unknown operation.", "ru": "Неизвестная операция."},
    "jobs_empty": {"en": "You have no jobs yet.", "ru": "У вас пока нет заданий."},
    "jobs_header": {
        "en": "Your jobs ({first}–{last} of {total}):",
        "ru": "Ваши задания ({first}–{last} из {total}):",
    },
    "prev": {"en": "« Newer", "ru": "« Новее"},
    "next": {"en": "Older »", "ru": "Старше »"},
    "job_not_found": {"en": "No job {job_id} of yours.", "ru": "Задание {job_id} не найдено."},
    "status_line": {
        "en": "Job {job_id}: {operation}, {status}",
        "ru": "Задание {job_id}: {operation}, {status}",
    },
    "position_line": {"en": "Position in the queue: {position}", "ru": "Позиция в очереди: {position}"},
    "error_line": {"en": "Error: {message}", "ru": "Ошибка: {message}"},
    "cancelled": {"en": "Job {job_id} is cancelled.", "ru": "Задание {job_id} отменено."},
    "cancelled_caption": {"en": "🚫 Cancelled. Job {job_id}", "ru": "🚫 Отменено. Задание {job_id}"},
    "cannot_cancel": {
        "en": "Job {job_id} is {status}; only waiting jobs can be cancelled.",
        "ru": "Задание {job_id}: {status}; отменить можно только ожидающее.",
    },
    "usage": {"en": "Usage: {usage}", "ru": "Использование: {usage}"},
    "tier_own": {"en": "Your tier: {tier}.", "ru": "Ваш тариф: {tier}."},
    "token_issued": {
        "en": "Your token for photobot's HTTP API, valid for {lifetime} ({scope} scope). Keep it secret: "
        "anyone who has it sees your jobs. /logout revokes it.\n\n{token}\n\n"
        "Try it:\ncurl -H \"Authorization: Bearer {token}\" {base}/api/v1/me\n\n"
        "Your jobs: {base}/api/v1/jobs; the whole API: {base}/api/v1/openapi.json",
        "ru": "Ваш токен для HTTP API photobot, действует {lifetime} (права: {scope}). Храните его в тайне: "
        "с ним видны ваши задания. /logout отзывает его.\n\n{token}\n\n"
        "Попробуйте:\ncurl -H \"Authorization: Bearer {token}\" {base}/api/v1/me\n\n"
        "Ваши задания: {base}/api/v1/jobs; весь API: {base}/api/v1/openapi.json",
    },
    "token_too_often": {
        "en": "At most {count} new tokens in {minutes} minutes; the last one still works. "
        "/logout revokes them all.",
        "ru": "Не больше {count} новых токенов за {minutes} минут; последний по-прежнему действует. "
        "/logout отзывает все.",
    },
    "token_base_unknown": {"en": "<your photobot's address>", "ru": "<адрес вашего photobot>"},
    "lifetime_hours": {"en": "{count} h", "ru": "{count} ч"},
    "lifetime_minutes": {"en": "{count} min", "ru": "{count} мин"},
    "token_private_only": {
        "en": "A token is personal, so I send it only in a private chat: write /token to me directly.",
        "ru": "Токен — личный, поэтому я присылаю его только в личном чате: напишите мне /token напрямую.",
    },
    "logged_out": {
        "en": "Done: your API tokens no longer work ({count} revoked).",
        "ru": "Готово: ваши токены API больше не действуют (отозвано: {count}).",
    },
    "admin_only": {
        "en": "Sorry, this command is for admins only.",
        "ru": "Извините, эта команда только для администраторов.",
    },
    "tier_set": {
        "en": "User {user} now has tier {tier}.",
        "ru": "У пользователя {user} теперь тариф {tier}.",
    },
    "unknown_tier": {
        "en": "Unknown tier {tier}; tiers: {tiers}.",
        "ru": "Неизвестный тариф {tier}; есть: {tiers}.",
    },
    "bad_user_id": {"en": "Not a user id: {value}.", "ru": "Это не id пользователя: {value}."},
    "protected_admin": {
        "en": "{user} is an admin named in ADMIN_IDS: not banned or demoted from a chat.",
        "ru": "{user} — администратор из ADMIN_IDS: из чата его нельзя заблокировать или понизить.",
    },
    "user_banned": {"en": "User {user} is banned.", "ru": "Пользователь {user} заблокирован."},
    "user_unbanned": {"en": "User {user} is unbanned.", "ru": "Пользователь {user} разблокирован."},
    "requeued": {"en": "Job {job_id} is back in the queue.", "ru": "Задание {job_id} снова в очереди."},
    "requeued_failed": {
        "en": "Failed jobs back in the queue: {count}.",
        "ru": "Упавших заданий возвращено в очередь: {count}.",
    },
    "cannot_requeue": {
        "en": "Job {job_id} is {status}; only failed jobs can be requeued.",
        "ru": "Задание {job_id}: {status}; вернуть можно только упавшее.",
    },
    "stats": {
        "en": "Queue\npending by tier: {depth}\nprocessing: {processing}\nretrying: {retrying}\n"
        "failed: {failed}\ncompleted in the last hour: {completed_hour} (failed {failed_hour})\n"
        "oldest wait: {oldest_wait} s\nprocessing time p50/p95: {p50} / {p95} s\n"
        "workers alive: {workers}",
        "ru": "Очередь\nожидают по тарифам: {depth}\nв работе: {processing}\nждут повтора: {retrying}\n"
        "упали: {failed}\nготово за час: {completed_hour} (упало {failed_hour})\n"
        "самое долгое ожидание: {oldest_wait} с\nвремя обработки p50/p95: {p50} / {p95} с\n"
        "живых воркеров: {workers}",
    },
}

STATUS_NAMES: Mapping[str, Mapping[str, str]] = {
    "pending": {"en": "waiting", "ru": "ожидает"},
    "processing": {"en": "processing", "ru": "в работе"},
    "retrying": {"en": "waiting for a retry", "ru": "ждёт повтора"},
    "completed": {"en": "done", "ru": "готово"},
    "failed": {"en": "failed", "ru": "ошибка"},
    "cancelled": {"en": "cancelled", "ru": "отменено"},
}

# The bot's command menu, set at start in both languages.
COMMANDS: Mapping[str, Mapping[str, str]] = {
    "start": {"en": "Start", "ru": "Начать"},
    "help": {"en": "How to use the bot", "ru": "Как пользоваться"},
    "ops": {"en": "Operations", "ru": "Операции"},
    "jobs": {"en": "My recent jobs", "ru": "Мои задания"},
    "status": {"en": "Status of a job: /status ID", "ru": "Состояние задания: /status ID"},
    "cancel": {"en": "Cancel a waiting job: /cancel ID", "ru": "Отменить задание: /cancel ID"},
    "tier": {"en": "My tier", "ru": "Мой тариф"},
    "token": {"en": "A token for the HTTP API (private chat)", "ru": "Токен для HTTP API (в личном чате)"},
    "logout": {"en": "Revoke my API tokens", "ru": "Отозвать мои токены API"},
    "forget": {"en": "Delete my stored photos now", "ru": "Удалить мои сохранённые фото"},
    "premium": {"en": "Premium: more photos, faster", "ru": "Премиум: больше фото, быстрее"},
    "paysupport": {"en": "Help with a payment", "ru": "Помощь с платежом"},
    "terms": {"en": "Terms of premium", "ru": "Условия премиума"},
}


def pick_language(language_code: str | None, default: str = "en") -> str:
    """Map a platform's language code (`ru`, `ru-RU`, `en-GB`, None) to one of LANGUAGES."""
    if language_code:
        base = language_code.split("-")[0].split("_")[0].lower()
        if base in _RUSSIAN_CODES:
            return "ru"
        if base in LANGUAGES:
            return base
        return "en"
    return default if default in LANGUAGES else "en"


def t(key: str, language: str, **params: Any) -> str:
    """The text `key` in `language` (English when missing), formatted with `params`."""
    variants = TEXTS[key]
    template = variants.get(language) or variants["en"]
    return template.format(**params) if params else template


def status_name(status: str, language: str) -> str:
    names = STATUS_NAMES.get(status)
    return (names.get(language) or names["en"]) if names else status
