/* Rendering of Telegram messages into DOM nodes.
 *
 * Bot text arrives as plain text plus entities (the sandbox parsed the bot's
 * HTML), so nothing here ever assigns innerHTML: every piece of text goes in
 * through textContent, and links only keep http(s) and tg: URLs.
 */
"use strict";

const Render = (() => {
  const TAGS = {
    bold: "b", italic: "i", underline: "u", strikethrough: "s", code: "code", pre: "pre",
    spoiler: "span", text_link: "a", blockquote: "blockquote", expandable_blockquote: "blockquote",
    bot_command: "span", text_mention: "b", url: "a",
  };

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function safeUrl(url) {
    return /^(https?:|tg:)/i.test(url || "") ? url : null;
  }

  /* Wrap one plain-text segment in the elements of the entities covering it. */
  function wrap(segment, active, ctx) {
    let node = document.createTextNode(segment);
    for (const entity of [...active].reverse()) {
      const tag = TAGS[entity.type];
      if (!tag) continue;
      const outer = el(tag);
      if (entity.type === "spoiler") {
        outer.className = "spoiler";
        outer.addEventListener("click", () => outer.classList.add("shown"));
      } else if (entity.type === "text_link" || entity.type === "url") {
        // Telegram marks "t.me/x" without a scheme as a url too: it opens as https.
        const raw = entity.type === "url" && !/^[a-z]+:/i.test(segment) ? "https://" + segment : segment;
        const href = safeUrl(entity.type === "url" ? raw : entity.url);
        if (href) {
          outer.href = href; outer.target = "_blank"; outer.rel = "noopener noreferrer";
          outer.addEventListener("click", (event) => {
            if (ctx.onLink && ctx.onLink(href)) event.preventDefault();
          });
        }
      } else if (entity.type === "bot_command") {
        outer.className = "command";
        outer.addEventListener("click", () => ctx.onCommand && ctx.onCommand(segment));
      }
      outer.append(node);
      node = outer;
    }
    return node;
  }

  /* Text + entities (UTF-16 offsets, which is what JS string indices are). */
  function formatted(text, entities, ctx) {
    const box = document.createDocumentFragment();
    const cuts = new Set([0, text.length]);
    for (const e of entities || []) { cuts.add(e.offset); cuts.add(e.offset + e.length); }
    const points = [...cuts].filter((p) => p >= 0 && p <= text.length).sort((a, b) => a - b);
    for (let i = 0; i < points.length - 1; i += 1) {
      const [start, end] = [points[i], points[i + 1]];
      const active = (entities || []).filter((e) => e.offset <= start && e.offset + e.length >= end)
        .sort((a, b) => a.offset - b.offset || b.length - a.length);
      box.append(wrap(text.slice(start, end), active, ctx));
    }
    return box;
  }

  function senderName(msg) {
    if (msg.from) return [msg.from.first_name, msg.from.last_name].filter(Boolean).join(" ");
    if (msg.sender_chat) return msg.sender_chat.title;
    return "";
  }

  function keyboard(msg, ctx) {
    const rows = (msg.reply_markup || {}).inline_keyboard;
    if (!rows) return null;
    const box = el("div", { class: "keyboard" });
    for (const row of rows) {
      const line = el("div", { class: "row" });
      for (const button of row) {
        const isLink = button.url || button.login_url || button.web_app;
        const node = el("button", { type: "button", class: isLink ? "link" : "", text: button.text });
        node.addEventListener("click", () => ctx.onButton(msg, button, node));
        line.append(node);
      }
      box.append(line);
    }
    return box;
  }

  function quote(msg) {
    const replied = msg.reply_to_message;
    if (!replied) return null;
    const text = replied.text || replied.caption || (replied.photo ? "Photo"
      : replied.document ? replied.document.file_name || "File" : "…");
    return el("div", { class: "quote" }, el("b", { text: senderName(replied) }),
      document.createTextNode(" " + text.slice(0, 80)));
  }

  /* Times read as in the bot's time zone (the sandbox's time_zone), named once on the clock. */
  let timeZone;
  function setTimeZone(zone) {
    try { new Intl.DateTimeFormat([], { timeZone: zone }); timeZone = zone; } catch { timeZone = undefined; }
  }
  function time(unix, withZone = false) {
    return new Date(unix * 1000).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit",
      minute: "2-digit", hourCycle: "h23", timeZone, ...(withZone ? { timeZoneName: "short" } : {}) });
  }

  /* One message bubble. */
  function message(msg, ctx) {
    const mine = msg.from && msg.from.id === ctx.personaId && !msg.sender_chat;
    const bubble = el("article", { class: "msg" + (mine ? " mine" : ""), "data-id": msg.message_id });
    if (!mine && ctx.showSender) bubble.append(el("div", { class: "who", text: senderName(msg) }));
    if (msg.via_bot) bubble.append(el("div", { class: "who", text: "via @" + msg.via_bot.username }));
    bubble.append(quote(msg) || "");
    if (msg.photo && msg.photo.length) {
      const photo = msg.photo[msg.photo.length - 1];
      bubble.append(el("img", { class: "photo", alt: "photo", loading: "lazy",
        src: "/sandbox/api/files/" + encodeURIComponent(photo.file_id) }));
    }
    if (msg.document) {
      const doc = msg.document;
      const size = doc.file_size ? ` (${Math.max(1, Math.round(doc.file_size / 1024))} KB)` : "";
      bubble.append(el("a", { class: "document", download: doc.file_name || "file",
        href: "/sandbox/api/files/" + encodeURIComponent(doc.file_id),
        text: "📄 " + (doc.file_name || "file") + size }));
    }
    const text = msg.text !== undefined ? msg.text : msg.caption;
    const entities = msg.text !== undefined ? msg.entities : msg.caption_entities;
    if (text) bubble.append(el("div", { class: "body" }, formatted(text, entities, ctx)));
    bubble.append(keyboard(msg, ctx) || "");
    const meta = el("div", { class: "meta" },
      document.createTextNode((msg.edit_date ? "edited · " : "") + time(msg.date)));
    meta.title = time(msg.date, true);
    if (ctx.onReply) {
      meta.append(el("button", { type: "button", class: "quiet", text: "reply",
        onclick: () => ctx.onReply(msg) }));
    }
    bubble.append(meta);
    return bubble;
  }

  return { el, message, formatted, safeUrl, senderName, time, setTimeZone };
})();
