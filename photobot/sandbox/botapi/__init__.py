"""A local stand-in for the Telegram Bot API, as strict as Telegram where photobot can meet a limit:
the real aiogram Bot and a real ``photobot run`` talk to it over HTTP on 127.0.0.1, and a test (or
the sandbox's chat page, photobot.sandbox) plays the users through its side door and reads what the
bot did. The tests know it as ``tests.fakes.telegram``.

Running it
    async with FakeTelegram() as tg:                       # inside a test's event loop
        bot = Bot(tg.token, session=AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url)))

    with FakeTelegram.run_in_thread() as tg:               # own loop in a thread; sync tests
        env = {"BOT_TOKEN": tg.token, "TELEGRAM_API_URL": tg.base_url}

    python -m photobot.sandbox.botapi --port 8081 [--token T]  # standalone; prints {"base_url", "token"}

The Bot API (form, JSON or multipart bodies; method names case-insensitive; answers shaped as
Telegram's, errors included): getMe, getUpdates (offset confirms, negative offset, limit, long-poll
timeout that returns as soon as an update arrives, allowed_updates remembered; a second poll ends the
first with 409, and polling while a webhook is set answers 409), sendMessage, sendPhoto,
sendDocument (upload in the field itself or via attach://, or a known file_id), sendMediaGroup,
editMessageText, editMessageCaption, editMessageMedia (photo or document, attach:// or file_id),
editMessageReplyMarkup, deleteMessage, answerCallbackQuery, getFile and
GET /file/bot<token>/<file_path>, setMyCommands, getMyCommands, deleteMyCommands, setWebhook,
deleteWebhook (drop_pending_updates honoured by both), getWebhookInfo, sendChatAction; payments in
Telegram Stars (payments.py): sendInvoice, createInvoiceLink (subscription_period),
answerPreCheckoutQuery (within 10 s), refundStarPayment, editUserStarSubscription, with their
documented limits and errors. Unknown method: 404; wrong token: 401. Edits that change nothing:
400 "message is not modified"; an edit without reply_markup removes the inline keyboard, as on
Telegram. Files over 20 MB: getFile
answers 400 "file is too big". parse_mode HTML/Markdown is rendered to plain text (malformed HTML:
400 "can't parse entities"). With a webhook set, updates are POSTed to it one at a time with the
X-Telegram-Bot-Api-Secret-Token header; a non-2xx answer means delivery again after
``webhook_retry_delay`` seconds.

Side door, Python (thread-safe; every method also works while the fake runs in another thread)
    inject_text(user_id, text, chat_id=None, language_code="en", chat_type="private",
                first_name=None) -> update_id
    inject_photo(user_id, image_bytes, caption=None, chat_id=None, language_code="en", ...) -> update_id
    inject_document(user_id, data, file_name, mime_type=None, caption=None, ...) -> update_id
    inject_album(user_id, [image_bytes, ...], caption=None, ...) -> [update_id, ...]
    inject_callback(user_id, message_id, data, chat_id=None) -> callback_query_id
    inject_pre_checkout(user_id, payload, total_amount, currency="XTR") -> pre_checkout_query_id
    pre_checkout_answer(query_id) -> {ok, error_message} | None
    inject_successful_payment(user_id, payload, total_amount, currency="XTR", subscription=False,
                              renewal_of=None, charge_id=None) -> (update_id, charge_id)
    pay(user_id, invoice) -> charge_id | None   the whole purchase: pre-checkout, answer, payment
    invoices() -> [Invoice]   charge(charge_id) -> Charge | None  (refunded, canceled, expires_at)
    open_chat(user_id, language_code="en")   block(user_id) / unblock(user_id)  (403 while blocked)
    messages(chat_id) -> [BotMessage]          all the bot sent, deleted ones too, oldest first
    visible_messages(chat_id) -> [BotMessage]  what the user sees now
        BotMessage: message_id, kind ("text" | "photo" | "document" | "invoice"), text (text or caption),
        caption, data (bytes of the current photo/document), reply_markup, buttons(), deleted,
        edited, media_group_id, versions ([MessageVersion], every state it was ever in, with .at)
    calls(method=None) -> [CallRecord]         method, chat_id, at (time.monotonic()), status, ok,
                                                params, message_id, description
    update(update_id) -> dict   callback_answer(query_id) -> dict | None   commands(language_code="")
    confirmed_offset, pending_update_count, webhook_url   (properties)
    fail_next(method=None, count=1, retry_after=1)      429s; None: any method but getUpdates
    storm(fraction, retry_after=1, duration=10.0, methods=None)   seeded random 429s; calm() ends it
    A 429 starts a flood wait for its chat (chat-less calls share one): further calls there get 429
    with the seconds left until retry_after has passed, as Telegram answers; calm() ends them too.
    reset()
    await wait_for(predicate, timeout=10.0)    wait_for_sync(predicate, timeout=10.0)
    Group chats: chat_type="group" or "supergroup" with a negative chat_id. Private chat id == user id.

Side door, HTTP (JSON; bytes as base64; errors: 400 {"error": ...})
    POST /_fake/inject/text      {user_id, text, chat_id?, language_code?, chat_type?, first_name?}
                                 -> {update_id}
    POST /_fake/inject/photo     {user_id, image_b64, caption?, ...}           -> {update_id}
    POST /_fake/inject/document  {user_id, data_b64, file_name, mime_type?, caption?, ...} -> {update_id}
    POST /_fake/inject/album     {user_id, images_b64: [...], caption?, ...}   -> {update_ids}
    POST /_fake/inject/callback  {user_id, message_id, data, chat_id?}         -> {callback_query_id}
    POST /_fake/inject/pre_checkout {user_id, payload, total_amount, currency?}
                                 -> {pre_checkout_query_id}
    POST /_fake/inject/successful_payment {user_id, payload, total_amount, subscription?, renewal_of?,
                                 charge_id?} -> {update_id, telegram_payment_charge_id}
    GET  /_fake/invoices   GET /_fake/charge?charge_id=C
    GET  /_fake/messages?chat_id=N[&visible=1][&data=1]  -> [message]  (data=1 adds data_b64)
    GET  /_fake/calls[?method=sendPhoto][&since=T]       -> [call]
    GET  /_fake/state     -> {base_url, token, confirmed_offset, pending_update_count, webhook_url, now}
    POST /_fake/wait_messages {chat_id, count=1, kind?, timeout=10}  -> [message] or 408
    POST /_fake/fail_next {method?, count, retry_after}   POST /_fake/storm {fraction, retry_after,
    duration, methods?}   POST /_fake/calm   POST /_fake/block|unblock {user_id}   POST /_fake/reset

Where it differs from Telegram, on purpose: the largest PhotoSize is the exact bytes sent (no
recompression), so tests compare images exactly; http:// webhook URLs on any port are accepted;
webhook updates go one at a time; no rate limits are enforced (the call log lets a test measure
them); inline messages, other media kinds and payments in other currencies than Stars are not
spoken.
"""

from .model import ApiError, BotMessage, CallRecord, MessageVersion
from .server import FakeTelegram

__all__ = ["ApiError", "BotMessage", "CallRecord", "FakeTelegram", "MessageVersion"]
