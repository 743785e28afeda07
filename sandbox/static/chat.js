/* The sandbox web chat: pick a persona, chat with the bot, press buttons, use inline mode.
 *
 * Talks only to the control API (/sandbox/api). New, edited and deleted
 * messages arrive by long polling /chats/<id>/messages?after=<rev>.
 */
"use strict";

const API = "/sandbox/api";
const $ = (id) => document.getElementById(id);
const state = {
  info: null, users: [], persona: null, chats: [], chat: null, rev: 0, messages: new Map(),
  poll: null, replyTo: null, inlineTimer: null, inlineSeq: 0,
};

async function api(path, options = {}) {
  const init = { ...options };
  if (options.json !== undefined) {
    init.method = init.method || "POST";
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(options.json);
  }
  const response = await fetch(API + path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.description || response.statusText);
  return data;
}

function toast(text) {
  const node = $("toast");
  node.textContent = text;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { node.hidden = true; }, 2600);
}

function alertBox(text) {
  $("alert-text").textContent = text;
  $("alert").showModal();
}

/* ---- personas ------------------------------------------------------------------ */
async function loadPersonas() {
  state.info = await api("/info");
  Render.setTimeZone(state.info.clock.time_zone);  // before any message is drawn
  state.users = (await api("/users")).users;
  const select = $("persona");
  select.replaceChildren();
  const labels = Object.fromEntries(state.info.personas.map((p) => [p.id, p.label]));
  const order = state.info.personas.map((p) => p.id);
  const rank = (user) => (order.includes(user.id) ? order.indexOf(user.id) : order.length);
  state.users.sort((a, b) => rank(a) - rank(b) || a.id - b.id);  /* the cast first, then new users */
  for (const user of state.users) {
    const label = labels[user.id] || `${user.first_name} (${user.id})`;
    select.append(Render.el("option", { value: user.id, text: label }));
  }
  select.append(Render.el("option", { value: "new", text: "New user…" }));
  const saved = Number(localStorage.getItem("sandbox.persona"));
  const start = state.users.find((u) => u.id === saved) || state.users[0];
  select.value = String(start.id);
  await choosePersona(start.id);
}

async function newUser() {
  const name = prompt("First name of the new user?", "Guest");
  if (!name) { $("persona").value = String(state.persona.id); return; }
  const language = prompt("Language code (en, zh, …)?", "en") || "en";
  const { user } = await api("/users", { json: { first_name: name, language_code: language } });
  localStorage.setItem("sandbox.persona", user.id);
  await loadPersonas();
}

async function choosePersona(userId) {
  state.persona = state.users.find((u) => u.id === Number(userId));
  localStorage.setItem("sandbox.persona", state.persona.id);
  updateBlockButton();
  await loadChats();
  renderChats();
  await openChat(state.persona.id);
}

async function loadChats() {
  const kinds = ["private", "group", "channel"];
  state.chats = (await api(`/users/${state.persona.id}/chats`)).chats
    .sort((a, b) => kinds.indexOf(a.type) - kinds.indexOf(b.type));  /* the bot's chat first */
}

function updateBlockButton() {
  const user = state.users.find((u) => u.id === state.persona.id);
  $("block").textContent = user && user.blocked ? "Unblock bot" : "Block bot";
}

async function toggleBlock() {
  const user = state.users.find((u) => u.id === state.persona.id);
  await api(`/users/${user.id}/block`, { json: { blocked: !user.blocked } });
  user.blocked = !user.blocked;
  updateBlockButton();
  toast(user.blocked ? "You blocked the bot" : "You unblocked the bot");
}

/* ---- chats --------------------------------------------------------------------- */
function chatTitle(chat) {
  if (chat.type === "private") return "@" + state.info.bot.username;
  return (chat.type === "channel" ? "📢 " : "👥 ") + chat.title;
}

function renderChats() {
  const nav = $("chats");
  nav.replaceChildren();
  for (const chat of state.chats) {
    const current = state.chat && state.chat.id === chat.id;
    nav.append(Render.el("button", { type: "button", text: chatTitle(chat),
      "aria-current": String(Boolean(current)), onclick: () => openChat(chat.id) }));
  }
  nav.append(Render.el("button", { type: "button", id: "new-channel-button", class: "quiet",
    text: "＋ Channel", title: "Create a channel", onclick: openNewChannel }));
  const open = nav.querySelector('[aria-current="true"]');
  if (open) open.scrollIntoView({ block: "nearest", inline: "nearest" });  /* on a phone the row scrolls */
}

async function openChat(chatId) {
  if (!state.chats.some((c) => c.id === chatId)) await loadChats();  /* a chat begun since the list */
  const chat = state.chats.find((c) => c.id === chatId);
  if (!chat) return;
  state.chat = chat;
  state.rev = 0;
  state.messages = new Map();
  state.replyTo = null;
  $("replying").hidden = true;
  $("messages").replaceChildren();
  hideInline();
  renderChats();
  const canWrite = state.chat.type !== "channel" || state.chat.owner_id === state.persona.id;
  $("composer").hidden = !canWrite;
  $("composer-note").hidden = canWrite;
  $("composer-note").textContent = "Only the channel's owner posts here. Press the buttons on the cards.";
  renderChannelBar();
  if (state.poll) state.poll.abort();
  pollMessages(new AbortController());
}

async function pollMessages(controller) {
  state.poll = controller;
  const chatId = state.chat.id;
  while (!controller.signal.aborted) {
    try {
      const url = `/chats/${chatId}/messages?after=${state.rev}&timeout=${state.rev ? 25 : 0}`;
      const batch = await api(url, { signal: controller.signal });
      if (controller.signal.aborted) return;
      state.rev = batch.rev;
      applyChanges(batch.messages);
    } catch (err) {
      if (controller.signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
  }
}

function applyChanges(messages) {
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  for (const msg of messages) {
    const old = box.querySelector(`[data-id="${msg.message_id}"]`);
    if (msg._deleted) { if (old) old.remove(); state.messages.delete(msg.message_id); continue; }
    state.messages.set(msg.message_id, msg);
    const node = Render.message(msg, renderContext());
    if (old) old.replaceWith(node);
    else insertInOrder(box, node, msg.message_id);
  }
  renderReplyKeyboard();
  if (atBottom || messages.length) box.scrollTop = box.scrollHeight;
}

function insertInOrder(box, node, id) {
  const later = [...box.children].find((child) => Number(child.dataset.id) > id);
  box.insertBefore(node, later || null);
}

function renderContext() {
  return {
    personaId: state.persona.id, showSender: state.chat.type !== "private",
    onButton: pressButton, onCommand: (text) => sendText(text), onLink: followDeepLink,
    onReply: state.chat.type === "channel" ? null : startReply,
  };
}

/* The start payload of a link to our bot (t.me/<bot>?start=x, tg://resolve?domain=<bot>). */
function deepLinkStart(url) {
  const bot = state.info.bot.username.toLowerCase();
  try {
    const link = new URL(url);
    const web = ["t.me", "telegram.me"].includes(link.hostname)
      && link.pathname.slice(1).toLowerCase() === bot;
    const app = link.protocol === "tg:" && (link.searchParams.get("domain") || "").toLowerCase() === bot;
    if (web || app) return link.searchParams.get("start") || "";
  } catch (err) { /* not a URL */ }
  return null;
}

/* A t.me link to a channel the persona can see (t.me/<channel username>), or null. */
function channelOfLink(url) {
  try {
    const link = new URL(url);
    if (!["t.me", "telegram.me"].includes(link.hostname)) return null;
    const name = link.pathname.slice(1).toLowerCase();
    return state.chats.find((c) => c.type === "channel" && (c.username || "").toLowerCase() === name) || null;
  } catch (err) { return null; }
}

/* Deep links to our bot open its chat and send /start <payload>, as the apps do;
 * a link to a channel opens that channel. Anything else opens in a new tab. */
function followDeepLink(url) {
  const channel = channelOfLink(url);
  if (channel) { openChat(channel.id); return true; }
  const payload = deepLinkStart(url);
  if (payload === null) return false;
  openChat(state.persona.id).then(() => sendText(payload ? `/start ${payload}` : "/start"));
  return true;
}

function startReply(msg) {
  state.replyTo = msg.message_id;
  $("replying-text").textContent = "Replying to: " + (msg.text || msg.caption || "photo").slice(0, 60);
  $("replying").hidden = false;
  $("text").focus();
}

/* A reply keyboard from the newest bot message that set one (or removed it). */
function renderReplyKeyboard() {
  const panel = $("reply-keyboard");
  const withKeyboard = [...state.messages.values()].filter((m) => m._keyboard)
    .sort((a, b) => b.message_id - a.message_id)[0];
  const rows = withKeyboard && withKeyboard._keyboard.keyboard;
  panel.replaceChildren();
  panel.hidden = !rows;
  for (const row of rows || []) {
    const line = Render.el("div", { class: "row" });
    for (const button of row) {
      const text = typeof button === "string" ? button : button.text;
      line.append(Render.el("button", { type: "button", text, onclick: () => sendText(text) }));
    }
    panel.append(line);
  }
}
