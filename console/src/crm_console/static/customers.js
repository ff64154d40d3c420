// Customers pages: accessible tabs (WAI-ARIA tabs pattern). Without this script every panel
// shows, one after the other, and the form still works.
"use strict";

function setUpTabs(list) {
  const tabs = Array.from(list.querySelectorAll("[role=tab]"));
  const panelOf = (tab) => document.getElementById(tab.getAttribute("aria-controls"));
  const select = (tab, focus) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      panelOf(t).hidden = !on;
    }
    if (focus) tab.focus();
  };
  list.addEventListener("click", (event) => {
    const tab = event.target instanceof Element ? event.target.closest("[role=tab]") : null;
    if (tab) select(tab, true);
  });
  list.addEventListener("keydown", (event) => {
    const at = tabs.indexOf(document.activeElement);
    if (at < 0) return;
    const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    select(tabs[(next + tabs.length) % tabs.length], true);
  });
  // After a refused save, open the tab whose panel holds an error.
  const withError = tabs.find((t) => panelOf(t).querySelector(".has-error"));
  select(withError || tabs.find((t) => t.getAttribute("aria-selected") === "true") || tabs[0], false);
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-tabs]").forEach(setUpTabs);
});
