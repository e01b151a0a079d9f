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
        "/cancel ID: cancel a waiting job\n/tier: your tier\n"
        "/token: a token for the HTTP API (in a private chat)\n/logout: revoke your tokens\n\n"
        "Limits: files up to {max_mb} MB, {flood_limit} photos per {flood_window} s, "
        "{pending_cap} unfinished jobs at a time.",
        "ru": "Как пользоваться:\n"
        "• пришлите фото и выберите операцию кнопкой;\n"
        "• или напишите её в подписи, например «сепия» или «faces_blur»;\n"
        "• альбом — это по заданию на каждое фото.\n\n"
        "Команды:\n/ops — операции\n/jobs — ваши последние задания\n/status ID — одно задание\n"
        "/cancel ID — отменить ожидающее задание\n/tier — ваш тариф\n"
        "/token — токен для HTTP API (в личном чате)\n/logout — отозвать ваши токены\n\n"
        "Ограничения: файлы до {max_mb} МБ, {flood_limit} фото за {flood_window} с, "
        "не более {pending_cap} незавершённых заданий.",
    },
    "admin_help": {
        "en": "Admin: /stats, /requeue ID|failed, /tier USER_ID TIER, /ban USER_ID, /unban USER_ID, /job ID.",
        "ru": "Администратору: /stats, /requeue ID|failed, /tier USER_ID ТАРИФ, /ban USER_ID, "
        "/unban USER_ID, /job ID.",
    },
    "ops_header": {
        "en": "Operations (name them in a caption or pick a button):",
        "ru": "Операции (напишите в подписи или выберите кнопкой):",
    },
    "choose_op": {"en": "What should I do with this photo?", "ru": "Что сделать с этим фото?"},
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
