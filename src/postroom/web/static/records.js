// Record pages: "Another address" / "Another phone" add a row to the record form.
// Without this script the form still works: it always has one empty row of each.
"use strict";

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-add-row]");
  if (!button) return;
  const kind = button.getAttribute("data-add-row");
  const rows = document.querySelector(`[data-rows="${kind}"]`);
  const template = document.getElementById(`row-${kind}`);
  if (!rows || !template) return;
  const row = template.content.firstElementChild.cloneNode(true);
  const index = rows.querySelectorAll("[data-row]").length;
  const radio = row.querySelector('input[type="radio"]');
  if (radio) radio.value = String(index);
  const input = row.querySelector("input:not([type=radio])");
  if (input) {
    input.id = `${kind}-${index}`;
    const label = row.querySelector("label.visually-hidden");
    if (label) label.htmlFor = input.id;
  }
  rows.appendChild(row);
  if (input) input.focus();
});
