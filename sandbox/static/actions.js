/* What the persona does in the web chat: send, press, use inline mode, move the clock. */
"use strict";

async function sendText(text) {
  const payload = { user_id: state.persona.id, chat_id: state.chat.id, text };
  if (state.replyTo) payload.reply_to_message_id = state.replyTo;
  state.replyTo = null;
  $("replying").hidden = true;
  try { await api("/messages", { json: payload }); } catch (err) { toast(err.message); }
}

async function sendPhoto(file) {
  const form = new FormData();
  form.append("user_id", state.persona.id);
  form.append("chat_id", state.chat.id);
  form.append("caption", $("text").value);
  form.append("photo", file, file.name);
  $("text").value = "";
  try { await api("/photos", { method: "POST", body: form }); } catch (err) { toast(err.message); }
}

async function pressButton(msg, button, node) {
  if (button.callback_data !== undefined) return pressCallback(msg, button, node);
  const url = Render.safeUrl(button.url || (button.login_url || {}).url || (button.web_app || {}).url);
  if (url) { if (!followDeepLink(url)) window.open(url, "_blank", "noopener"); return; }
  if (button.switch_inline_query_current_chat !== undefined) {
    return startInline(button.switch_inline_query_current_chat);
  }
  if (button.switch_inline_query !== undefined) return pickChatForInline(button.switch_inline_query);
  if (button.switch_inline_query_chosen_chat) {
    return pickChatForInline(button.switch_inline_query_chosen_chat.query || "");
  }
  if (button.copy_text) {
    await navigator.clipboard.writeText(button.copy_text.text).catch(() => {});
    return toast("Copied");
  }
  toast("This kind of button is not emulated");
}

async function pressCallback(msg, button, node) {
  node.disabled = true;
  const payload = { user_id: state.persona.id, data: button.callback_data };
  if (msg._inline_message_id) payload.inline_message_id = msg._inline_message_id;
  else Object.assign(payload, { chat_id: msg.chat.id, message_id: msg.message_id });
  try {
    const answer = await api("/callbacks", { json: payload });
    if (!answer.answered) toast("The bot did not answer (the button keeps spinning on Telegram)");
    else if (answer.url && !followDeepLink(answer.url)) window.open(answer.url, "_blank", "noopener");
    else if (answer.text && answer.show_alert) alertBox(answer.text);
    else if (answer.text) toast(answer.text);
  } catch (err) {
    toast(err.message);
  } finally {
    node.disabled = false;
  }
}

/* ---- inline mode ---------------------------------------------------------------- */
function inlinePrefix() { return "@" + state.info.bot.username + " "; }

function startInline(query) {
  $("text").value = inlinePrefix() + (query || "");
  $("text").focus();
  onTyping();
}

function pickChatForInline(query) {
  const box = $("picker-chats");
  box.replaceChildren();
  for (const chat of state.chats) {
    box.append(Render.el("button", { type: "button", text: chatTitle(chat), onclick: async () => {
      $("picker").close();
      await openChat(chat.id);
      startInline(query);
    } }));
  }
  $("picker").showModal();
}

function onTyping() {
  const value = $("text").value;
  clearTimeout(state.inlineTimer);
  if (!value.startsWith(inlinePrefix().trim())) { hideInline(); return; }
  const query = value.slice(inlinePrefix().length);
  state.inlineTimer = setTimeout(() => runInline(query), 350);
}

function hideInline() {
  $("inline-results").hidden = true;
  $("inline-results").replaceChildren();
}

/* Ask the bot; with an offset (the bot's next_offset) the results are appended. */
async function runInline(query, offset = "") {
  const seq = offset ? state.inlineSeq : ++state.inlineSeq;
  const panel = $("inline-results");
  let answer;
  try {
    answer = await api("/inline_queries", { json: { user_id: state.persona.id,
      chat_id: state.chat.id, query, offset } });
  } catch (err) { toast(err.message); return; }
  if (seq !== state.inlineSeq) return;
  if (!offset) panel.replaceChildren();
  panel.querySelectorAll(".more").forEach((node) => node.remove());
  panel.hidden = false;
  if (!answer.answered) panel.append(Render.el("div", { class: "empty", text: "The bot did not answer." }));
  else if (!answer.results.length && !offset) {
    panel.append(Render.el("div", { class: "empty", text: "No results." }));
  }
  const button = answer.button;
  if (button && !offset && button.start_parameter !== undefined) {
    // InlineQueryResultsButton: opens the bot's chat with /start <parameter>.
    panel.prepend(Render.el("button", { type: "button", class: "result more", text: button.text,
      onclick: () => followDeepLink(`https://t.me/${state.info.bot.username}?start=${button.start_parameter}`) }));
  }
  for (const result of answer.results) panel.append(inlineRow(answer.inline_query_id, result));
  if (answer.next_offset) {
    panel.append(Render.el("button", { type: "button", class: "result more", text: "More…",
      onclick: () => runInline(query, answer.next_offset) }));
  }
}

function inlineRow(queryId, result) {
  // A cached photo shows itself, as Telegram's apps show it; the description is plain text, never the caption.
  const cached = result.photo_file_id && "/sandbox/api/files/" + encodeURIComponent(result.photo_file_id);
  const thumb = Render.safeUrl(result.thumbnail_url || result.photo_url) || cached;
  const text = Render.el("div", {},
    Render.el("div", { class: "title", text: result.title || result.id }),
    Render.el("div", { class: "desc", text: result.description || "" }));
  const row = Render.el("button", { type: "button", class: "result" },
    thumb ? Render.el("img", { src: thumb, alt: "" }) : null, text);
  row.addEventListener("click", async () => {
    hideInline();
    $("text").value = "";
    try {
      await api("/inline_results", { json: { user_id: state.persona.id, chat_id: state.chat.id,
        inline_query_id: queryId, result_id: result.id } });
    } catch (err) { toast(err.message); }
  });
  return row;
}

/* ---- the bot's command menu (setMyCommands) ------------------------------------- */
async function toggleCommands() {
  const panel = $("commands");
  if (!panel.hidden) { panel.hidden = true; return; }
  const { commands } = await api(`/users/${state.persona.id}/commands`);
  panel.replaceChildren();
  if (!commands.length) panel.append(Render.el("div", { class: "empty", text: "The bot set no commands." }));
  for (const command of commands) {
    panel.append(Render.el("button", { type: "button", class: "command-row",
      text: `/${command.command} — ${command.description}`,
      onclick: () => { panel.hidden = true; sendText("/" + command.command); } }));
  }
  panel.hidden = false;
}

/* ---- channels: create one, add the bot as its admin (as Telegram's apps do) --------- */
function openNewChannel() {
  $("channel-title").value = "";
  $("channel-username").value = "";
  $("new-channel-error").hidden = true;
  $("new-channel").showModal();
  $("channel-title").focus();
}

async function createChannel(event) {
  event.preventDefault();
  const title = $("channel-title").value.trim();
  if (!title) return;
  try {
    const { chat } = await api("/channels", { json: { title, owner_id: state.persona.id,
      username: $("channel-username").value.trim() || null, bot_admin: false } });
    $("new-channel").close();
    await loadChats();
    await openChat(chat.id);
    toast("Channel created. Add the bot as an admin to post cards here.");
  } catch (err) {
    $("new-channel-error").textContent = err.message;
    $("new-channel-error").hidden = false;
  }
}

/* The owner's bar over a channel: its link, and the bot's place among its admins. */
function renderChannelBar() {
  const chat = state.chat;
  const owner = chat.type === "channel" && chat.owner_id === state.persona.id;
  $("channel-bar").hidden = !owner;
  if (!owner) return;
  const bot = "@" + state.info.bot.username;
  const link = chat.username ? `t.me/${chat.username} · ` : "private channel · ";
  $("channel-info").textContent = link + (chat.bot_admin ? `${bot} is an admin` : `${bot} is not a member`);
  $("bot-admin").textContent = chat.bot_admin ? `Remove ${bot}` : `Add ${bot} as admin`;
}

async function toggleBotAdmin() {
  const chat = state.chat;
  try {
    await api(`/channels/${chat.id}/admin`, { json: { bot_admin: !chat.bot_admin, user_id: state.persona.id } });
  } catch (err) { toast(err.message); return; }
  await loadChats();
  state.chat = state.chats.find((c) => c.id === chat.id) || chat;
  renderChannelBar();
  toast(state.chat.bot_admin ? "The bot is now an admin of this channel" : "The bot is no longer an admin here");
}

/* ---- clock ---------------------------------------------------------------------- */
function showClock(clock) {
  const hours = Math.round(clock.offset_seconds / 3600);
  const [days, rest] = [Math.floor(hours / 24), hours % 24];
  const shift = [days ? `${days} d` : "", rest ? `${rest} h` : ""].filter(Boolean).join(" ");
  if (clock.time_zone) Render.setTimeZone(clock.time_zone);
  $("clock-now").textContent = Render.time(clock.unix, true) + (shift ? ` (+${shift})` : "");
  $("clock-now").title = clock.time_zone || "";
}

/* New channels and groups appear without a reload. */
async function refreshChats() {
  state.chats = (await api(`/users/${state.persona.id}/chats`)).chats;
  renderChats();
}

async function advanceClock(seconds) {
  showClock(await api("/clock/advance", { json: { seconds } }));
  toast("Clock moved forward");
}

/* ---- wiring --------------------------------------------------------------------- */
function wire() {
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("text").value;
    if (!text.trim() || text.startsWith(inlinePrefix().trim())) return;
    $("text").value = "";
    sendText(text);
  });
  $("text").addEventListener("input", onTyping);
  $("text").addEventListener("keydown", (event) => {
    // Enter sends, Shift+Enter is a new line (an address is three lines), as in Telegram's apps.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("photo").addEventListener("change", (event) => {
    if (event.target.files[0]) sendPhoto(event.target.files[0]);
    event.target.value = "";
  });
  $("persona").addEventListener("change", (event) => {
    if (event.target.value === "new") newUser(); else choosePersona(event.target.value);
  });
  $("block").addEventListener("click", toggleBlock);
  $("menu").addEventListener("click", toggleCommands);
  $("new-channel-form").addEventListener("submit", createChannel);
  $("new-channel-cancel").addEventListener("click", () => $("new-channel").close());
  $("bot-admin").addEventListener("click", toggleBotAdmin);
  $("replying-cancel").addEventListener("click", () => { state.replyTo = null; $("replying").hidden = true; });
  for (const button of document.querySelectorAll("[data-advance]")) {
    button.addEventListener("click", () => advanceClock(Number(button.dataset.advance)));
  }
  setInterval(async () => {
    try {
      showClock(await api("/clock"));
      await refreshChats();
    } catch (err) { /* the sandbox is restarting; try again next time */ }
  }, 20000);
}

window.addEventListener("DOMContentLoaded", async () => {
  wire();
  await loadPersonas();
  showClock(state.info.clock);
});
