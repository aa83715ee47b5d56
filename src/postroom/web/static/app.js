// Postroom's own script: small progressive enhancements; every page works without it.
"use strict";

document.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-nav-toggle]");
  if (toggle) {
    const open = document.body.classList.toggle("nav-open");
    toggle.setAttribute("aria-expanded", String(open));
    return;
  }
  // A click outside an open <details> menu closes it.
  for (const menu of document.querySelectorAll("details.user-menu[open]")) {
    if (!menu.contains(event.target)) menu.removeAttribute("open");
  }
  if (document.body.classList.contains("nav-open") && !event.target.closest(".sidenav")) {
    document.body.classList.remove("nav-open");
  }
});

// <form data-confirm="Remove this record?"> asks before it is sent.
document.addEventListener("submit", (event) => {
  const message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) event.preventDefault();
});

document.addEventListener("keydown", (event) => {
  if (event.key === "/" && !event.target.closest("input, textarea, select")) {
    const search = document.getElementById("q");
    if (search) { event.preventDefault(); search.focus(); }
  }
  if (event.key === "Escape") document.body.classList.remove("nav-open");
});
