// The sandbox's chat page: sends what the person does to /sandbox/api/ and redraws the chat from
// what the bot shows, a few times a second, so a status message is seen turning into the result.
"use strict";

const chat = document.getElementById("chat");
const personSelect = document.getElementById("person");
const languageSelect = document.getElementById("language");
const text = document.getElementById("text");
const file = document.getElementById("file");
const asFile = document.getElementById("as-file");
const toast = document.getElementById("toast");
let shown = "";
let stick = true;  // follow the newest message, unless the person scrolled up to read

function person() { return personSelect.value; }

function say(message) {
  toast.textContent = message;
  toast.hidden = false;
  clearTimeout(say.timer);
  say.timer = setTimeout(() => { toast.hidden = true; }, 3000);
}

async function call(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    say(body.error || `error ${response.status}`);
    throw new Error(body.error || response.statusText);
  }
  return body;
}

function postJSON(path, body) {
  return call(path, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  });
}

async function press(messageId, data) {
  const {query} = await postJSON("/sandbox/api/press", {person: person(), message_id: messageId, data});
  for (let i = 0; i < 20; i++) {  // the bot answers the press (a toast in Telegram), if it says something
    await new Promise((resolve) => setTimeout(resolve, 250));
    const answer = await call(`/sandbox/api/answer/${encodeURIComponent(query)}`);
    if (answer.answered) { if (answer.text) say(answer.text); return; }
  }
}

function render(message) {
  const node = document.createElement("div");
  node.className = "msg";
  node.dataset.from = message.from;
  node.dataset.id = message.id;
  node.dataset.kind = message.kind;
  if (message.image) {
    const img = document.createElement("img");
    img.src = message.image;
    img.alt = message.kind;
    img.addEventListener("load", () => { if (stick) chat.scrollTop = chat.scrollHeight; });
    node.appendChild(img);
  } else if (message.url) {
    const link = document.createElement("a");
    link.href = message.url;
    link.textContent = `📄 ${message.file_name || document.body.dataset.file}`;
    link.download = message.file_name || document.body.dataset.file;
    node.appendChild(link);
    node.appendChild(document.createElement("br"));
  }
  if (message.text) node.appendChild(document.createTextNode(message.text));
  if (message.edits) {
    const edited = document.createElement("span");
    edited.className = "edited";
    edited.textContent = document.body.dataset.edited;
    node.appendChild(edited);
  }
  if (message.buttons && message.buttons.length) {
    const keyboard = document.createElement("div");
    keyboard.className = "keyboard";
    for (const row of message.buttons) {
      const line = document.createElement("div");
      line.className = "row";
      for (const button of row) {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = button.text;
        b.addEventListener("click", () => press(message.id, button.data).catch(() => {}));
        line.appendChild(b);
      }
      keyboard.appendChild(line);
    }
    node.appendChild(keyboard);
  }
  return node;
}

async function refresh() {
  const who = person();
  if (!who) return;
  const {messages} = await call(`/sandbox/api/chat?person=${encodeURIComponent(who)}`);
  const now = JSON.stringify(messages);
  if (now === shown || who !== person()) return;
  shown = now;
  chat.replaceChildren(...messages.map(render));
  if (stick) chat.scrollTop = chat.scrollHeight;
}

async function send(event) {
  event.preventDefault();
  const words = text.value.trim();
  if (file.files.length) {
    const form = new FormData();
    form.append("person", person());
    form.append("language", languageSelect.value);
    form.append("caption", words);
    form.append("as_file", asFile.checked ? "1" : "0");
    form.append("file", file.files[0]);
    await call("/sandbox/api/upload", {method: "POST", body: form});
    file.value = "";
  } else if (words) {
    await postJSON("/sandbox/api/text", {person: person(), text: words, language: languageSelect.value});
  } else {
    return;
  }
  text.value = "";
  stick = true;
  refresh();
}

chat.addEventListener("scroll", () => {
  stick = chat.scrollTop + chat.clientHeight >= chat.scrollHeight - 40;
});

async function start() {
  const people = await call("/sandbox/api/people");
  for (const p of people) {
    const option = document.createElement("option");
    option.value = p.id;
    option.textContent = `${p.name} (${p.role}, id ${p.id})`;
    personSelect.appendChild(option);
  }
  personSelect.addEventListener("change", () => {
    shown = "";
    stick = true;
    chat.replaceChildren();
    refresh();
  });
  document.getElementById("composer").addEventListener("submit", (event) => send(event).catch(() => {}));
  await refresh();
  setInterval(() => refresh().catch(() => {}), 500);
}

start();
