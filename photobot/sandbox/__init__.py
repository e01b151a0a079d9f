"""The sandbox: photobot without Telegram, for trying it and for its own tests.

botapi/   a local Bot API stand-in, as strict as Telegram where photobot can meet a limit; the real
          aiogram code talks to it over HTTP (TELEGRAM_API_URL), and its side door plays the users
chat.py   the chat page (static/) and its JSON API, added to photobot's own HTTP app
run.py    `photobot sandbox`: the stand-in, photobot in one process, the page; no token, no network
"""
