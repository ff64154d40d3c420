// A group's page: the side panel (Escape or Cancel closes it) and the metadata table's row
// buttons. No inline script (CSP); the page marks elements with data-* attributes.
"use strict";

function closePanel() {
  const panel = document.getElementById("panel");
  if (!panel || !panel.firstElementChild) return false;
  panel.replaceChildren();
  const opener = document.getElementById("edit-group");
  if (opener) opener.focus();
  return true;
}

document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || document.querySelector("dialog[open]")) return;
  if (closePanel()) event.preventDefault();
});

document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target : null;
  if (!target) return;
  if (target.closest("[data-close-panel]")) {
    event.preventDefault();  // without this script the link reloads the page, panel closed
    closePanel();
    return;
  }
  const button = target.closest("[data-row-action]");
  if (button) rowAction(button);
});

// After a save the server empties the panel: focus goes back where the panel was opened.
document.addEventListener("htmx:afterSwap", (event) => {
  const panel = event.target;
  if (panel instanceof Element && panel.id === "panel" && !panel.firstElementChild) {
    const opener = document.getElementById("edit-group");
    if (opener) opener.focus();
  }
});

function newRow(form) {
  const template = form.querySelector("template[data-meta-template]");
  return template.content.firstElementChild.cloneNode(true);
}

function renumber(tbody) {
  tbody.querySelectorAll("tr[data-meta-row]").forEach((row, i) => {
    row.querySelectorAll("[data-row-label]").forEach((span) => {
      span.textContent = `${span.dataset.rowLabel}, row ${i + 1}`;
    });
  });
}

function rowAction(button) {
  const row = button.closest("tr[data-meta-row]");
  const form = button.closest("form[data-metadata-editor]");
  if (!row || !form) return;
  const tbody = row.parentElement;
  const action = button.dataset.rowAction;
  let focus;
  if (action === "above" || action === "below") {
    const added = newRow(form);
    row.insertAdjacentElement(action === "above" ? "beforebegin" : "afterend", added);
    focus = added.querySelector("input[name=key]");
  } else if (action === "delete") {
    const next = row.nextElementSibling || row.previousElementSibling;
    if (next) {
      row.remove();
      focus = next.querySelector("input[name=key]");
    } else {  // the last row: emptied, so the table always has one to type in
      row.querySelectorAll("input").forEach((input) => { input.value = ""; });
      row.classList.remove("has-error");
      row.querySelectorAll(".error").forEach((p) => p.remove());
      focus = row.querySelector("input[name=key]");
    }
  }
  renumber(tbody);
  if (focus) focus.focus();
}

// A form acting on ticked rows (data-needs-selection) is not sent, nor confirmed, with none
// ticked: it says so instead. On window, so it runs before console.js's confirmation.
window.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.needsSelection) return;
  const note = form.querySelector("[data-selection-note]");
  if (form.querySelector("input[type=checkbox][name]:checked")) {
    if (note) note.textContent = "";
    return;
  }
  event.preventDefault();
  event.stopImmediatePropagation();
  if (note) note.textContent = form.dataset.needsSelection;
}, true);

// "Select every member on this page" ticks or unticks the rows' checkboxes.
document.addEventListener("change", (event) => {
  const all = event.target;
  if (!(all instanceof HTMLInputElement) || !all.matches("[data-select-all]")) return;
  all.form.querySelectorAll("input[type=checkbox][name]").forEach((box) => { box.checked = all.checked; });
});
