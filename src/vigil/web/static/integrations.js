// The integrations page: creating an integration and rotating its key. The API answers
// with the key once; it is handed to the reloaded page through sessionStorage, removed
// from there at once, shown in the integration's "shown this once" box and put into its
// URL and snippets in place of their placeholder ("<key …a1b2>"). Nothing else keeps it.
"use strict";
(() => {
  const HANDOFF = "vigil.integrationKey";

  async function parsed(text) {  // JSON, else YAML parsed on the server (like ops.js)
    try { return JSON.parse(text); } catch (e) { /* not JSON */ }
    return (await vigil.call("POST", "/ui/parse-yaml", {text})).value;
  }

  function showAfterReload(made) {
    sessionStorage.setItem(HANDOFF, JSON.stringify({id: made.id, key: made.key}));
    history.replaceState(null, "", `/ui/integrations#integration-${made.id}`);
    location.reload();
  }

  function failed(form, err) {
    const box = form.querySelector("[data-ops-error]");
    if (box) { box.textContent = err.message; box.hidden = false; }
  }

  async function create(form) {
    const body = {};
    for (const el of form.elements) {
      if (!el.name || el.disabled) continue;
      const v = el.value.trim();
      if (v === "") continue;
      body[el.name] = el.dataset.json !== undefined ? await parsed(v) : v;
    }
    return vigil.call("POST", form.dataset.integrationCreate, body);
  }

  async function rotate(form) {
    const grace = Number(form.elements.grace_seconds.value || 0);
    const ask = grace
      ? "Rotate this key? The current one keeps working for the time you chose."
      : "Rotate this key? Senders still using the current one will get 401 from now on.";
    if (!confirm(ask)) return null;
    return vigil.call("POST", `${form.dataset.rotateKey}?grace_seconds=${grace}`);
  }

  function bind(form, action) {
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const buttons = form.querySelectorAll("button");
      buttons.forEach((b) => { b.disabled = true; });
      try {
        const made = await action(form);
        if (made) showAfterReload(made);
      } catch (err) {
        failed(form, err);  // vigil.call showed it in the toast too
      } finally {
        buttons.forEach((b) => { b.disabled = false; });
      }
    });
  }

  function reveal() {
    const raw = sessionStorage.getItem(HANDOFF);
    if (raw === null) return;
    sessionStorage.removeItem(HANDOFF);
    let got;
    try { got = JSON.parse(raw); } catch (e) { return; }
    const section = document.getElementById(`integration-${Number(got.id)}`);
    if (!section || typeof got.key !== "string") return;
    const placeholder = section.dataset.keyPlaceholder;
    section.querySelectorAll("[data-key-in]").forEach((el) => {
      el.textContent = el.textContent.split(placeholder).join(got.key);
    });
    const box = section.querySelector("[data-key-once]");
    box.querySelector("[data-key-once-value]").textContent = got.key;
    box.hidden = false;
    box.scrollIntoView({block: "center"});
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.querySelector("form[data-integration-create]");
    if (form) bind(form, create);
    document.querySelectorAll("form[data-rotate-key]").forEach((f) => bind(f, rotate));
    reveal();
  });
})();
