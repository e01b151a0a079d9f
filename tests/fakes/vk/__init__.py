"""A fake VK API on 127.0.0.1 that the real vkbottle (and `python -m photobot run`) talks to.

It speaks the part of VK that photobot uses, shaped as VK 5.199 shapes it, so that vkbottle's own
models and error classes parse every answer:

- /method/<name> (GET or POST, access_token and v in the query or the form):
  groups.getById, groups.getLongPollServer, messages.send (peer_id/user_id -> message id, or
  peer_ids -> [{"peer_id", "message_id", "conversation_message_id", "error"?}]), messages.edit,
  messages.getById, messages.getByConversationMessageId, messages.setActivity, users.get,
  photos.getMessagesUploadServer, photos.saveMessagesPhoto, docs.getMessagesUploadServer, docs.save.
- the Bots Long Poll server (the "server" of groups.getLongPollServer): act=a_check&key&ts&wait,
  holds the request until an event arrives; failed=1 (with a ts), 2 (key expired), 3 (lost).
- the upload server (the "upload_url" of photos.getMessagesUploadServer): multipart field "photo"
  -> {"server", "photo", "hash"}; a file that is not an image gives "photo": "[]", after which
  photos.saveMessagesPhoto fails with error 100, as on VK.
- the document upload server (docs.getMessagesUploadServer's "upload_url"): multipart field "file"
  -> {"file"} or {"error"} for a file VK refuses; docs.save(file, title) -> {"type": "doc", "doc"}.
- photo URLs (in the "sizes" of photos users send and photos the bot uploaded): the largest size
  is the exact bytes sent or uploaded; smaller sizes are JPEG reductions; the small crops o/p/q/r
  are listed after the largest, so pick by width x height, never the last entry.

VK's limits, enforced as VK documents them (limits.py names the dev.vk.com page of each): an inline
keyboard of at most 10 buttons, 5 to a row, 6 rows, labels up to 40 characters, payloads up to 255
(else error 911); message text up to 4096 characters (else 914); at most 10 attachments; photo
uploads JPG/PNG/GIF up to 50 MB, width + height up to 14000, sides within 1:20; documents up to
200 MB and not executables; a group chat the community is not in is error 917; more than 20 API
calls in a second is error 6; an edit of a message older than 24 hours is error 909.

VK's behaviour that photobot must cope with, and that the fake reproduces:
- random_id: the same non-zero random_id to the same peer within an hour returns the first
  message's id and sends nothing (random_id 0 means no deduplication; missing is error 100).
- messages.edit replaces the whole message: attachments and keyboard not passed again are gone.
  It takes message_id or conversation_message_id with peer_id.
- errors as {"error": {"error_code", "error_msg", "request_params"}}: 5 wrong token, 8 no v,
  3 unknown method, 100 missing/invalid parameter (also an unknown or foreign photo attachment),
  6 too many requests (switch or rate mode), 901 user has not allowed messages, 911 bad keyboard,
  121 bad upload hash, 15 editing a message that is not the community's.
- Messages of users have "photo" attachments owned by the user with an access_key; photos the
  community uploads are "photo-<group_id>_<id>_<access_key>" (the key may be left out by the owner).

POINTING VKBOTTLE AT IT. vkbottle builds every API URL as `api.API_URL + method` (API_URL is a class
attribute, "https://api.vk.ru/method/"), so set it on the instance; the long-poll server and the
upload URL come from the API's answers, so they follow by themselves:

    from vkbottle import API, Bot
    from vkbottle.http import AiohttpClient
    from vkbottle.tools import PhotoMessageUploader

    async with FakeVK() as vk:
        api = API(vk.token, http_client=AiohttpClient())   # own session, closed by the test
        api.API_URL = vk.api_url                            # "http://127.0.0.1:<port>/method/"
        bot = Bot(api=api)                                  # its BotPolling uses this api
        ...
        attachment = await PhotoMessageUploader(api).upload(jpeg_bytes, peer_id=peer)
        await api.messages.send(peer_id=peer, attachment=attachment, random_id=rid)
        photo_bytes = await api.http_client.request_content(largest_size.url)
        await api.http_client.close()

photobot's VK_API_URL is that same string (it must end in "/method/", since vkbottle concatenates).
A `class FakeAPI(API): API_URL = ...` subclass does the same. Without a group_id, BotPolling asks
groups.getById, which the fake answers. Note that BotPolling saves its ts to ./.vkbottle/ of the
working directory: tests chdir to tmp_path. vkbottle's default client is a process-wide singleton
(SingleAiohttpClient); pass an AiohttpClient per API in tests so sessions end with the test.

RUNNING IT
    async with FakeVK() as vk: ...                 # in the test's loop; vk.base_url, vk.api_url,
                                                   # vk.token, vk.group_id, vk.port
    with FakeVK.run_in_thread() as vk: ...         # its own loop in a thread; every side-door
                                                   # method may be called from any thread
    python -m tests.fakes.vk --port N [--token T] [--group-id G] [--rate-limit R]
                                                   # prints {"base_url","api_url","token","group_id"}
FakeVK(token=None, group_id=224466001, host="127.0.0.1", port=0, rate_limit=20). stop() and
start() again keep the state and the port, which models VK going away for a while.

SIDE DOOR (Python; over HTTP under /_fake/, JSON with images as base64, see sidedoor.py)
  inject_text(user_id, text, peer_id=None) -> message dict       (peer_id defaults to user_id;
  inject_photo(user_id, image_bytes, text="", peer_id=None)        2000000000+n for a group chat)
  inject_photos(user_id, [image_bytes, ...], text="", peer_id=None) several photos in one message
  inject_document(user_id, filename, data, text="", peer_id=None) a file sent as a document
  inject_payload(user_id, payload: dict, text, peer_id=None)     a keyboard button press
  inject_message(user_id, text="", images=None, payload=None, peer_id=None, documents=None)
  remove_from_chat(peer_id)                the community leaves a group chat (sends: error 917)
  set_user(user_id, first_name=, last_name=, lang_id=)           lang_id 0 ru, 3 en (client_info)
  messages(peer_id) -> [Message]           the bot's messages, current content and .history
  visible_messages(peer_id) -> [VisibleMessage]   text, photos (bytes), attachments, keyboard, edits,
                                           documents ((title, bytes))
  calls(method=None) -> [ApiCall]          method ("longpoll", "upload", "download" for the other
                                           endpoints), params without the token, peer_id, at
                                           (time.monotonic()), error_code
  photo_bytes("photo<owner>_<id>[_key]") -> bytes
  fail_next(method, count=1, code=6)       method "*" for any; code 10, 9, 901... also work
  set_rate_limit(per_second | None)        more than N API calls in any second -> error 6 (VK's
                                           20 for a community token by default; None: no check)
  deny_messages(user_id) / allow_messages(user_id)             error 901 on messages.send
  fail_long_poll(code, count=1, lose_events=False)             failed=1/2/3, held polls answer now
  reset()                                  forget everything; the long-poll ts keeps counting
  await wait_for(predicate, timeout=10)    re-checks after every change of state
  wait_for_sync(predicate, timeout=10)     the same for threads (not on the fake's loop)
"""

from .server import FakeVK
from .state import ApiCall, Message, Revision, VisibleMessage

__all__ = ["ApiCall", "FakeVK", "Message", "Revision", "VisibleMessage"]
