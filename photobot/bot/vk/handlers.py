"""What the community does with each message_new: photos, button presses, commands, the rest.

`VKHandlers` is the long poll's handler. For each message it loads the sender's record once
(`vk:<id>`), stops banned users (telling them once per window), then routes: a button's payload
(an operation for a waiting photo, another page of operations, a page of /jobs, VK's own "start"),
photos and image files (one job per image, under the flood limit), commands with "/" or "!", a
text that names an operation (for the sender's latest waiting photo), and a short hint for anything
else in a private chat.
/token answers with a token in a private chat only.

Errors: an outage propagates, so the long poll holds the event back and it comes again; a user who
does not allow messages (901) ends the handling quietly; any other failure is logged and answered
with an apology, and the event is confirmed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog

from photobot.bot.adapter import RecipientUnavailable
from photobot.bot.commands import Commands, Reply
from photobot.bot.core.gate import Sender
from photobot.bot.i18n import t
from photobot.bot.service import BotService, IncomingPhoto, KeyboardPress
from photobot.bot.vk.adapter import VKAdapter, photo_key
from photobot.bot.vk.errors import is_outage
from photobot.bot.vk.messages import VKMessage, parse_command, parse_message, parse_payload
from photobot.jobs import Platform, user_key
from photobot.logs import get_logger
from photobot.processing import parse_operation
from photobot.users import UserRecord

log = get_logger(__name__)


@dataclass
class VKHandlers:
    """`await handlers(event)` for every Bots Long Poll event."""

    service: BotService
    commands: Commands
    adapter: VKAdapter

    async def __call__(self, event: dict[str, Any]) -> None:
        if event.get("type") != "message_new" or not isinstance(event.get("object"), dict):
            return
        message = parse_message(event["object"], self.service.settings.default_language)
        if message is None or message.from_id <= 0:
            return  # service messages, and posts of communities or bots
        key = user_key(Platform.VK, message.from_id)
        with structlog.contextvars.bound_contextvars(user_id=key, peer_id=message.peer_id):
            try:
                await self._handle(message)
            except RecipientUnavailable:
                log.info("the user does not allow messages from the community; nothing sent")
            except Exception as error:
                if is_outage(error):
                    raise
                log.error("vk message failed", message_id=message.message_id, exc_info=error)
                await self._apologize(message)

    async def _handle(self, message: VKMessage) -> None:
        lang = message.language

        async def refuse(text: str) -> None:
            await self.adapter.send_text(message.peer_id, text)

        user = await self.service.gate.admit(Sender(Platform.VK, message.from_id), lang, refuse)
        if user is None:
            return
        if message.payload is not None:
            await self._on_payload(message, user, message.payload)
        elif message.images:
            await self._on_images(message, user)
        elif (command := parse_command(message.text)) is not None:
            reply = await self._command(command.name, command.args, user, lang, private=message.private)
            await self._reply(message, reply)
        elif message.other_attachments:
            await self._say(message, t("not_image", lang))
        elif await self._on_named_operation(message, user):
            return
        elif message.private:
            await self._say(message, t("not_understood", lang))

    # --- photos ----------------------------------------------------------------------------------
    async def _on_images(self, message: VKMessage, user: UserRecord) -> None:
        async def say(text: str) -> None:
            await self._say(message, text)

        for index, image in enumerate(message.images):
            key = photo_key(message.message_id, index)
            if not await self.service.gate.photo_allowed(
                user, f"{message.peer_id}:{key}", message.sent_at, message.language, say
            ):
                return
            await self.service.accept_photo(
                IncomingPhoto(
                    platform=Platform.VK,
                    chat_id=message.peer_id,
                    message_id=key,
                    user=user,
                    language=message.language,
                    file_ref=image.url,
                    filename=image.filename,
                    mime=image.mime,
                    file_size=image.size,
                    as_document=image.as_document,
                    caption=message.text or None,
                )
            )
            await self._remember_waiting(message.peer_id, user, key)

    async def _remember_waiting(self, peer_id: int, user: UserRecord, key: int) -> None:
        """The sender's latest photo that waits for its operation, for a text that names one."""
        status_id = await self.service.answered.get(Platform.VK, peer_id, key)
        if status_id is None:
            return
        pending = await self.service.choices.load(Platform.VK, peer_id, user.user_id, status_id)
        if pending is not None and pending.chosen_job_id is None:
            await self.service.latest.set(Platform.VK, peer_id, user.user_id, key)

    # --- operation choices -------------------------------------------------------------------------
    async def _on_payload(self, message: VKMessage, user: UserRecord, raw: str) -> None:
        payload = parse_payload(raw)
        lang = message.language
        if payload is None:
            await self._say(message, t("bad_button", lang))
        elif payload.get("command") == "start":  # VK's own "Start" button of a new conversation
            await self._reply(message, self.commands.start(lang))
        elif isinstance(payload.get("op"), str) and isinstance(payload.get("m"), int):
            await self._choose(message, user, payload["m"], payload["op"])
        elif isinstance(payload.get("ops"), int) and isinstance(payload.get("m"), int):
            await self._page(message, user, payload["m"], payload["ops"])
        elif isinstance(payload.get("jobs"), int):
            await self._reply(message, await self.commands.jobs(user, lang, payload["jobs"]))
        else:
            await self._say(message, t("bad_button", lang))

    async def _on_named_operation(self, message: VKMessage, user: UserRecord) -> bool:
        """A plain text such as "sepia" after a photo: the operation for the latest waiting photo."""
        parsed = parse_operation(message.text) if message.text.strip() else None
        if parsed is None:
            return False
        latest = await self.service.latest.get(Platform.VK, message.peer_id, user.user_id)
        if latest is None:
            return False
        await self._choose(message, user, latest, parsed[0])
        return True

    async def _choose(self, message: VKMessage, user: UserRecord, key: int, operation: str) -> None:
        """Enqueue the waiting photo `key`; the status message shows the outcome, other notices are
        sent as a reply."""
        service, lang, peer = self.service, message.language, message.peer_id
        status_id = await service.answered.get(Platform.VK, peer, key)
        pending = (
            await service.choices.load(Platform.VK, peer, user.user_id, status_id)
            if status_id is not None
            else None
        )
        if status_id is None or pending is None:
            await self._say(message, t("choice_expired", lang))
            return
        press = KeyboardPress(Platform.VK, peer, status_id, user, lang)
        notice = await service.choose_operation(press, operation)
        chosen = await service.choices.load(Platform.VK, peer, user.user_id, status_id)
        if pending.chosen_job_id is not None or chosen is None or chosen.chosen_job_id is None:
            await self._say(message, notice)  # already chosen, unknown operation, over the cap
            return
        await service.latest.forget(Platform.VK, peer, user.user_id)

    async def _page(self, message: VKMessage, user: UserRecord, key: int, page: int) -> None:
        """Another page of operations under the waiting photo `key`."""
        status_id = await self.service.answered.get(Platform.VK, message.peer_id, key)
        if status_id is None:
            await self._say(message, t("choice_expired", message.language))
            return
        press = KeyboardPress(Platform.VK, message.peer_id, status_id, user, message.language)
        notice = await self.service.show_operations(press, page)
        if notice is not None:
            await self._say(message, notice)

    # --- commands --------------------------------------------------------------------------------
    async def _command(self, name: str, args: str, user: UserRecord, lang: str, *, private: bool) -> Reply:
        reply = await self.commands.run(name, args, user, lang, private=private)
        return reply if reply is not None else Reply(t("unknown_command", lang, command="/" + name))

    # --- answers -----------------------------------------------------------------------------------
    async def _reply(self, message: VKMessage, reply: Reply) -> None:
        await self.adapter.send_text(
            message.peer_id, reply.text, reply_to=message.message_id, keyboard=reply.keyboard
        )

    async def _say(self, message: VKMessage, text: str) -> None:
        await self.adapter.send_text(message.peer_id, text, reply_to=message.message_id)

    async def _apologize(self, message: VKMessage) -> None:
        try:
            await self._say(message, t("update_failed", message.language))
        except Exception as error:  # the event is confirmed even when the apology cannot be sent
            log.warning("apology not sent", error=repr(error))
