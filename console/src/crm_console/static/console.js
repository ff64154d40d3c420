// Behaviour shared by every page. No inline scripts (the Content-Security-Policy allows only
// files from this origin); pages mark elements with data-* attributes instead.
"use strict";

// <form data-confirm="Delete this group? ..."> asks in a modal <dialog> before it is sent.
// The dialog's buttons are real buttons: Tab moves between them, Escape cancels.
function confirmDialog(message, confirmLabel) {
  return new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    dialog.className = "confirm";
    dialog.setAttribute("aria-labelledby", "confirm-text");
    const text = document.createElement("p");
    text.id = "confirm-text";
    text.textContent = message;
    const buttons = document.createElement("div");
    buttons.className = "actions";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    const ok = document.createElement("button");
    ok.type = "button";
    ok.className = "danger";
    ok.textContent = confirmLabel || "Confirm";
    buttons.append(cancel, ok);
    dialog.append(text, buttons);
    document.body.append(dialog);
    const done = (answer) => { dialog.close(); dialog.remove(); resolve(answer); };
    cancel.addEventListener("click", () => done(false));
    ok.addEventListener("click", () => done(true));
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); done(false); });
    dialog.showModal();
    cancel.focus();
  });
}
window.crmConfirm = confirmDialog;

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.dataset.confirm || form.dataset.confirmed) return;
  event.preventDefault();
  event.stopImmediatePropagation();
  if (await confirmDialog(form.dataset.confirm, form.dataset.confirmLabel)) {
    // Tells the server it was asked: without it, the server asks on a page of its own.
    const yes = document.createElement("input");
    yes.type = "hidden";
    yes.name = "confirmed";
    yes.value = "yes";
    form.append(yes);
    form.dataset.confirmed = "1";
    form.requestSubmit(event.submitter || undefined);  // the form's data is read here, at once
    delete form.dataset.confirmed;
    yes.remove();
  }
}, true);

document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target : null;
  if (!target) return;
  if (target.closest("[data-dismiss=banner]")) {
    document.getElementById("banner").replaceChildren();
  }
  if (target.closest("[data-back]") && history.length > 1) {
    event.preventDefault();
    history.back();
  }
});

// Keyboard shortcuts a page declares: <button data-key="r"> is pressed by the R key, unless
// the focus is in a field where R is a letter.
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  const active = document.activeElement;
  if (active && (active.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(active.tagName))) {
    if (!(active instanceof HTMLInputElement && active.type === "checkbox")) return;
  }
  if (document.querySelector("dialog[open]")) return;
  const button = document.querySelector(`[data-key="${CSS.escape(event.key.toLowerCase())}"]`);
  if (button && !button.disabled) {
    event.preventDefault();
    button.click();
  }
});

// After htmx swaps content in, move focus to an element marked autofocus in it (a side
// panel that opened), so keyboard users land where the work is.
document.addEventListener("htmx:afterSwap", (event) => {
  const focus = event.target.querySelector("[autofocus]");
  if (focus) focus.focus();
});
