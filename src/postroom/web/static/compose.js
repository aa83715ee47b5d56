// The compose form: To, Cc and Bcc suggest people on your records as you type (their name
// and primary address, from /api/v1/records). An ARIA combobox: arrows move, Enter or a
// click takes one, Escape closes. Without this script the boxes are plain text fields.
"use strict";

const MIN_CHARS = 2;
const MAX_SUGGESTIONS = 8;

function lastToken(value) {
  const cut = Math.max(value.lastIndexOf(","), value.lastIndexOf(";"));
  return { head: value.slice(0, cut + 1), token: value.slice(cut + 1).trim() };
}

function quoted(name) {
  return '"' + name.replace(/["\\]/g, "") + '"';
}

function setUp(input) {
  const list = document.createElement("ul");
  list.id = input.id + "-suggestions";
  list.className = "suggestions";
  list.setAttribute("role", "listbox");
  list.hidden = true;
  input.after(list);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", list.id);
  let items = [];
  let active = -1;
  let timer = null;
  let asked = 0;

  function close() {
    list.hidden = true;
    list.replaceChildren();
    items = [];
    active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function choose(index) {
    const person = items[index];
    if (!person) return;
    const { head } = lastToken(input.value);
    const entry = quoted(person.name) + " <" + person.primary_email + ">";
    input.value = (head ? head.trimEnd() + " " : "") + entry + ", ";
    close();
    input.focus();
  }

  function mark(index) {
    active = index;
    for (const [i, li] of [...list.children].entries()) {
      li.setAttribute("aria-selected", String(i === index));
    }
    if (index >= 0) input.setAttribute("aria-activedescendant", list.children[index].id);
  }

  async function suggest() {
    const { token } = lastToken(input.value);
    if (token.length < MIN_CHARS || token.includes("<")) { close(); return; }
    const ask = ++asked;
    const url = "/api/v1/records?per_page=" + MAX_SUGGESTIONS + "&q=" + encodeURIComponent(token);
    let found;
    try {
      const answer = await fetch(url, { headers: { Accept: "application/json" } });
      if (!answer.ok) { close(); return; }
      found = (await answer.json()).items.filter((r) => r.primary_email);
    } catch {
      close();
      return;
    }
    if (ask !== asked) return; // a later keystroke asked again
    if (!found.length) { close(); return; }
    items = found;
    list.replaceChildren(...found.map((person, i) => {
      const li = document.createElement("li");
      li.id = list.id + "-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      const name = document.createElement("strong");
      name.textContent = person.name;
      const address = document.createElement("span");
      address.textContent = person.primary_email;
      li.append(name, address);
      if (person.company) {
        const company = document.createElement("span");
        company.className = "muted";
        company.textContent = person.company.name;
        li.append(company);
      }
      li.addEventListener("mousedown", (event) => { event.preventDefault(); choose(i); });
      return li;
    }));
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    mark(-1);
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(suggest, 150);
  });
  input.addEventListener("keydown", (event) => {
    if (list.hidden) return;
    if (event.key === "ArrowDown") { event.preventDefault(); mark((active + 1) % items.length); }
    else if (event.key === "ArrowUp") { event.preventDefault(); mark((active - 1 + items.length) % items.length); }
    else if (event.key === "Enter" && active >= 0) { event.preventDefault(); choose(active); }
    else if (event.key === "Escape") { close(); }
  });
  input.addEventListener("blur", () => setTimeout(close, 100));
}

for (const input of document.querySelectorAll("input[data-suggest-people]")) setUp(input);
