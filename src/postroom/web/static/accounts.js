// Mail accounts: live first-sync progress on the accounts list and the health page.
// While an account is settling (a folder not live yet) its health is fetched from the API
// every 2 seconds and the state, progress bars and folder table are updated in place.
// Without this script the pages are complete; they just do not move until reloaded.
"use strict";

(() => {
  const EVERY_MS = 2000;
  const STATE_KIND = {
    ok: "success", retrying: "warning", needs_password: "danger",
    first_sync: "info", never_synced: "neutral",
  };
  const FOLDER_KIND = {
    live: "success", behind: "warning", backfilling: "info",
    new: "neutral", resync: "info", not_synced: "neutral",
  };
  const number = new Intl.NumberFormat("en-GB");

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function setBadge(badge, kind, text) {
    if (!badge) return;
    for (const name of [...badge.classList]) if (name.startsWith("badge-")) badge.classList.remove(name);
    badge.classList.add("badge-" + kind);
    badge.textContent = text;
  }

  function setProgress(box, progress, long) {
    if (!box) return;
    box.classList.toggle("is-hidden", !progress);
    if (!progress) return;
    const bar = box.querySelector("progress");
    bar.max = progress.total;
    bar.value = progress.done;
    const text = box.querySelector("[data-field=progress-text]");
    if (text) {
      text.textContent = `${number.format(progress.done)} of ${number.format(progress.total)} messages`
        + (long ? ` (${progress.percent}%)` : "");
    }
  }

  function count(value) {
    return value === null || value === undefined ? "" : number.format(value);
  }

  function folderRow(folder) {
    const name = el("td", {}, el("strong", { text: folder.name }));
    if (folder.role && folder.role !== folder.name.toLowerCase()) name.append(" ", el("span", { class: "muted small", text: folder.role }));
    const state = el("td", {}, el("span", {
      class: "badge badge-" + (FOLDER_KIND[folder.status] || "neutral"), text: folder.status_text,
    }));
    if (folder.first_sync) {
      const bar = el("progress", {
        class: "folder-progress", "aria-label": "First sync of " + folder.name,
      });
      bar.max = folder.first_sync.total;
      bar.value = folder.first_sync.done;
      state.append(bar);
    }
    return el("tr", { "data-folder": String(folder.id) },
      name, state,
      el("td", { class: "num", text: count(folder.on_server) }),
      el("td", { class: "num", text: count(folder.synced) }),
      el("td", { class: "num", text: count(folder.matched) }),
      el("td", { class: "num", text: count(folder.quarantined) }),
      el("td", { class: "hide-narrow small", text: folder.last_error || "" }));
  }

  function showError(box, health) {
    if (!box) return;
    box.replaceChildren();
    if (!health.last_error) return;
    const kind = health.state === "retrying" ? "warning" : "error";
    const alert = el("div", { class: "alert alert-" + kind, role: "alert" },
      el("strong", { text: "Last error: " + health.last_error }));
    if (health.last_error_advice) {
      alert.append(el("span", { class: "advice", text: "What to do: " + health.last_error_advice }));
    }
    box.append(alert);
  }

  function updatePage(root, health) {
    setBadge(root.querySelector("[data-field=state]"), STATE_KIND[health.state] || "neutral", health.state_label);
    setProgress(root.querySelector("[data-field=progress]"), health.first_sync, true);
    showError(root.querySelector("[data-field=error]"), health);
    const success = root.querySelector("[data-field=last-success]");
    if (success && health.last_success_at) {
      success.textContent = new Date(health.last_success_at).toLocaleString();
    }
    const waiting = root.querySelector("[data-field=waiting]");
    if (waiting) waiting.classList.toggle("is-hidden", health.folders.length > 0);
    const body = root.querySelector("[data-field=folders]");
    if (body && health.folders.length) body.replaceChildren(...health.folders.map(folderRow));
    root.dataset.settling = String(health.settling);
  }

  function updateRow(row, health) {
    setBadge(row.querySelector("[data-field=state]"), STATE_KIND[health.state] || "neutral", health.state_label);
    setProgress(row.querySelector("[data-field=progress]"), health.first_sync, false);
  }

  function watch(node, url, update, keepGoing) {
    let stopped = false;
    async function tick() {
      if (stopped) return;
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (!response.ok) { stopped = true; return; }
        const health = await response.json();
        update(node, health);
        if (!keepGoing(health)) { stopped = true; return; }
      } catch (error) {
        // The server restarting or the network gone: try again at the next tick.
      }
      window.setTimeout(tick, EVERY_MS);
    }
    window.setTimeout(tick, EVERY_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    const page = document.getElementById("account-health");
    if (page && page.dataset.settling === "true") {
      watch(page, page.dataset.healthUrl, updatePage, (health) => health.settling);
    }
    for (const row of document.querySelectorAll("[data-account-row][data-health-url]")) {
      watch(row, row.dataset.healthUrl, updateRow, (health) => health.settling);
    }
  });
})();
