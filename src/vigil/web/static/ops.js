// The operations pages' forms and buttons: every change is a JSON call to the REST API
// through vigil.call (session cookie + CSRF header), so the API's checks and roles apply.
//
// <form data-ops>: on submit, its fields become a JSON body, sent to the submit button's
// data-ops-api (or the form's), with data-method (POST), then to data-then (else reload;
// "{id}" in it becomes the id of what was made). Not data-api: app.js owns that one.
//   name="x"                      -> body.x = the value (empty values are left out)
//   data-number / type=number     -> a number
//   data-lines                    -> a list, one item per line
//   data-list                     -> a list split on commas and new lines
//   type=datetime-local           -> an ISO 8601 instant (read in the browser's zone)
//   data-json (JSON or YAML text) -> the parsed value; name="_body" makes it the whole body
//   type=checkbox data-matcher    -> checked ones become matchers [{name, op: "=", value}]
//   data-links                    -> runbook links, one "Title | https://..." per line
//   data-empty="null" / "[]" / "" -> an empty value is sent as that (null, [], or "" when
//                                    the attribute has no value) instead of left out, so an
//                                    edit form can clear a field
//   data-query                    -> a query parameter of the URL, not part of the body
//   data-for="v"                  -> only sent when the submit button's value is v
//   name="a.b"                    -> body.a.b (nested objects)
// A form's data-confirm asks first. A DELETE sends no body. When a call fails, the API's
// message goes into the form's [data-ops-error] element (as well as the toast), and its
// [data-reveal-on="409"] elements are shown when the API answered with that status.
// <button data-ops-call data-url data-method [data-body] [data-confirm] [data-then]>: one
// call, then reload (or go to data-then).
// <button data-copy="id">: copies the text of element #id.
// <input type=datetime-local data-from-now="minutes">: prefilled in the browser's zone.
"use strict";
(() => {
  const pad = (n) => String(n).padStart(2, "0");
  const localValue = (d) =>
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;

  function instant(value) {
    const d = new Date(value);
    if (Number.isNaN(d.getTime())) throw new Error(`not a date and time: ${value}`);
    return d.toISOString();
  }

  async function parsed(text) {
    try { return JSON.parse(text); } catch (e) { /* not JSON: try YAML on the server */ }
    const got = await vigil.call("POST", "/ui/parse-yaml", {text});
    return got.value;
  }

  // vigil.call, whose errors also carry the HTTP status (err.status); the CSRF header is
  // vigil's own.
  async function send(method, url, body) {
    const resp = await fetch(url, {
      method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": vigil.csrf()},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const err = new Error(data?.error?.message || `${resp.status} ${resp.statusText}`);
      err.status = resp.status;
      vigil.toast(err.message);
      throw err;
    }
    return data;
  }

  function links(text) {  // "Runbook | https://x" per line -> [{title, url}]
    return text.split(/\r?\n/).map((s) => s.trim()).filter(Boolean).map((line, i) => {
      const bar = line.lastIndexOf("|");
      const title = bar < 0 ? "" : line.slice(0, bar).trim();
      const url = (bar < 0 ? line : line.slice(bar + 1)).trim();
      if (!url || /\s/.test(url)) throw new Error(`Line ${i + 1}: expected "Title | https://..."`);
      return {title: (title || url).slice(0, 200), url};
    });
  }

  function put(body, name, value) {  // "schedule.cron" -> body.schedule.cron
    const keys = name.split(".");
    let node = body;
    keys.slice(0, -1).forEach((k) => { node = node[k] = node[k] || {}; });
    node[keys[keys.length - 1]] = value;
  }

  async function bodyOf(form, submitter, query) {
    let body = {};
    let whole = null;
    const matchers = [];
    const action = submitter ? submitter.value : "";
    for (const el of form.elements) {
      if (el.disabled || el.tagName === "BUTTON" || el.tagName === "FIELDSET") continue;
      if (el.dataset.for !== undefined && el.dataset.for !== action) continue;
      if (el.type === "checkbox") {
        if (el.dataset.matcher !== undefined) {
          if (el.checked) matchers.push({name: el.dataset.name, op: "=", value: el.dataset.value});
        } else if (el.name) put(body, el.name, el.checked);
        continue;
      }
      if (!el.name) continue;
      const raw = el.value;
      const v = raw.trim();
      if (el.dataset.query !== undefined) {
        if (v !== "") query.set(el.name, v);
        continue;
      }
      if (v === "") {
        const empty = el.dataset.empty;
        if (empty !== undefined) put(body, el.name, empty === "" ? "" : JSON.parse(empty));
        continue;
      }
      if (el.type === "password") {
        put(body, el.name, raw);
      } else if (el.dataset.json !== undefined) {
        const value = await parsed(raw);
        if (el.name === "_body") whole = value; else put(body, el.name, value);
      } else if (el.dataset.lines !== undefined) {
        put(body, el.name, v.split(/\r?\n/).map((s) => s.trim()).filter(Boolean));
      } else if (el.dataset.links !== undefined) {
        put(body, el.name, links(raw));
      } else if (el.dataset.list !== undefined) {
        put(body, el.name, v.split(/[\n,]+/).map((s) => s.trim()).filter(Boolean));
      } else if (el.type === "number" || el.dataset.number !== undefined) {
        put(body, el.name, Number(v));
      } else if (el.type === "datetime-local") {
        put(body, el.name, instant(v));
      } else {
        put(body, el.name, v);
      }
    }
    if (form.dataset.matchers !== undefined) {
      if (!matchers.length) throw new Error("Check at least one label.");
      body.matchers = matchers;
    }
    if (whole !== null) {
      if (typeof whole !== "object" || Array.isArray(whole)) throw new Error("Expected an object.");
      body = {...whole, ...body};
    }
    return body;
  }

  function failed(form, err) {
    const box = form.querySelector("[data-ops-error]");
    if (box) { box.textContent = err.message; box.hidden = false; }
    if (!err.status) return;
    form.querySelectorAll("[data-reveal-on]").forEach((el) => {
      if (!el.dataset.revealOn.split(/\s+/).includes(String(err.status))) return;
      el.hidden = false;
      el.querySelector("input, select, textarea")?.focus();
    });
  }

  async function submit(form, submitter) {
    let url = submitter?.dataset.opsApi || form.dataset.opsApi;
    const method = (submitter?.dataset.method || form.dataset.method || "POST").toUpperCase();
    const then = submitter?.dataset.then ?? form.dataset.then;
    const ask = submitter?.dataset.confirm || form.dataset.confirm;
    if (ask && !confirm(ask)) return;
    const box = form.querySelector("[data-ops-error]");
    if (box) { box.hidden = true; box.textContent = ""; }
    const query = new URLSearchParams();
    let body;
    try {
      body = await bodyOf(form, submitter, query);
    } catch (err) {
      vigil.toast(err.message);
      failed(form, err);
      return;
    }
    if (query.toString()) url += (url.includes("?") ? "&" : "?") + query.toString();
    if (method === "DELETE" && !Object.keys(body).length) body = undefined;
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const made = await send(method, url, body);
      vigil.toast(method === "DELETE" ? "Deleted" : "Saved");
      if (then) location.href = then.replace("{id}", made && made.id !== undefined ? made.id : "");
      else location.reload();
    } catch (err) {
      failed(form, err);  // send showed it in the toast too
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("form[data-ops]").forEach((form) => {
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        submit(form, e.submitter || form.querySelector("button[type=submit]"));
      });
    });
    document.querySelectorAll("button[data-ops-call]").forEach((btn) => {
      btn.addEventListener("click", async () => {
        if (btn.dataset.confirm && !confirm(btn.dataset.confirm)) return;
        btn.disabled = true;
        try {
          const body = btn.dataset.body ? JSON.parse(btn.dataset.body) : undefined;
          await vigil.call(btn.dataset.method || "POST", btn.dataset.url, body);
          vigil.toast("Done");
          if (btn.dataset.then) location.href = btn.dataset.then; else location.reload();
        } catch (err) {
          btn.disabled = false;
        }
      });
    });
    document.querySelectorAll("button[data-copy]").forEach((btn) => {
      btn.addEventListener("click", async () => {
        const text = document.getElementById(btn.dataset.copy)?.textContent || "";
        try {
          await navigator.clipboard.writeText(text);
          vigil.toast("Copied");
        } catch (err) {
          vigil.toast("Copy failed: select the text instead");
        }
      });
    });
    document.querySelectorAll("input[type=datetime-local][data-from-now]").forEach((el) => {
      if (el.value) return;
      el.value = localValue(new Date(Date.now() + Number(el.dataset.fromNow) * 60000));
    });
    document.querySelectorAll("[data-local-time]").forEach((el) => {
      const d = new Date(el.getAttribute("datetime"));
      if (!Number.isNaN(d.getTime())) el.title = d.toLocaleString();
    });
  });
})();
