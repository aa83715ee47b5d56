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

// <form data-confirm="Remove this record?"> asks before it is sent; so does a submit button
// with data-confirm-button (only when that button sends the form).
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  const message = event.target.getAttribute("data-confirm")
    || (button && button.getAttribute("data-confirm-button"));
  if (message && !window.confirm(message)) event.preventDefault();
});

// <input type="checkbox" data-check-all> ticks every box of its form.
document.addEventListener("change", (event) => {
  if (!event.target.matches("[data-check-all]")) return;
  for (const box of event.target.form.querySelectorAll('input[type="checkbox"][name]')) {
    box.checked = event.target.checked;
  }
});

document.addEventListener("keydown", (event) => {
  if (event.key === "/" && !event.target.closest("input, textarea, select")) {
    const search = document.getElementById("q");
    if (search) { event.preventDefault(); search.focus(); }
  }
  if (event.key === "Escape") document.body.classList.remove("nav-open");
});
