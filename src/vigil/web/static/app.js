// Vigil's small amount of JavaScript: CSRF-aware JSON calls, a toast, the theme toggle,
// keyboard shortcuts, and live updates over Server-Sent Events.
"use strict";
const vigil = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";
  async function call(method, url, body) {
    const resp = await fetch(url, {
      method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf()},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const msg = data?.error?.message || `${resp.status} ${resp.statusText}`;
      toast(msg); throw new Error(msg);
    }
    return data;
  }
  function toast(text) {
    const t = document.getElementById("toast");
    if (!t) return;
    t.textContent = text; t.classList.add("show");
    clearTimeout(t._timer); t._timer = setTimeout(() => t.classList.remove("show"), 2500);
  }
  const keys = {};
  function onKey(key, fn) { keys[key] = fn; }
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const tag = (e.target.tagName || "").toLowerCase();
    if (["input", "textarea", "select"].includes(tag) || e.target.isContentEditable) return;
    const fn = keys[e.key];
    if (fn) { e.preventDefault(); fn(e); }
  });
  let source = null;
  const listeners = [];
  function live(fn) {
    listeners.push(fn);
    if (source) return;
    source = new EventSource("/ui/events");
    source.onmessage = (msg) => {
      const data = JSON.parse(msg.data);
      listeners.forEach((f) => f(data));
    };
  }
  document.addEventListener("DOMContentLoaded", () => {
    const root = document.documentElement;
    const saved = localStorage.getItem("vigil-theme");
    if (saved) root.dataset.theme = saved;
    document.getElementById("theme-toggle")?.addEventListener("click", () => {
      const dark = root.dataset.theme === "dark" ||
        (root.dataset.theme !== "light" && matchMedia("(prefers-color-scheme: dark)").matches);
      root.dataset.theme = dark ? "light" : "dark";
      localStorage.setItem("vigil-theme", root.dataset.theme);
    });
    document.querySelectorAll("form[data-api]").forEach((form) => {
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const body = {};
        new FormData(form).forEach((v, k) => {
          if (v === "") return;
          if (form.querySelector(`[name="${k}"]`)?.dataset.list !== undefined)
            body[k] = String(v).split(/[\n,]+/).map((s) => s.trim()).filter(Boolean);
          else if (form.querySelector(`[name="${k}"]`)?.type === "number") body[k] = Number(v);
          else body[k] = v;
        });
        try {
          await call(form.dataset.method || "POST", form.dataset.api, body);
          toast("Saved");
          if (form.dataset.then) location.href = form.dataset.then; else location.reload();
        } catch (err) { /* shown in the toast */ }
      });
    });
  });
  return {call, toast, onKey, live, csrf};
})();
