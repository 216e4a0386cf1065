// Incident pages: the list (keyboard, bulk actions, live rows and counts) and one incident
// (actions through the JSON API, live refresh of its sections). Needs /static/app.js.
"use strict";
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const api = (id, what) => `/api/v1/incidents/${id}${what ? "/" + what : ""}`;
  const DONE = {acknowledge: "acknowledged", investigate: "investigating", resolve: "resolved",
                close: "closed", reopen: "reopened", assign: "assigned", confirm: "confirmed",
                dismiss: "dismissed", escalate: "escalated", mark_noise: "marked as noise"};
  const OPEN = ["firing", "acknowledged", "investigating"];

  async function getText(url) {
    const resp = await fetch(url, {credentials: "same-origin", headers: {Accept: "text/html"}});
    if (!resp.ok) throw new Error(`${resp.status} ${resp.statusText}`);
    return resp.text();
  }

  // Looks up an incident by its number ("INC-42" or "42").
  function lookup(text) {
    return vigil.call("GET", `/ui/incidents/lookup?number=${encodeURIComponent(text.trim())}`);
  }

  // ---------------------------------------------------------------- the list
  function listPage(table) {
    const body = table.tBodies[0];
    const canAct = table.dataset.canAct === "1";
    const statuses = (table.dataset.statuses || "").split(" ").filter(Boolean);
    const candidatesTab = table.dataset.tab === "candidates";
    const rows = () => $$("tr.incident", body);
    const rowOf = (id) => body.querySelector(`tr.incident[data-id="${CSS.escape(String(id))}"]`);
    let selected = null;

    function select(tr, scroll = true) {
      if (selected) {
        selected.classList.remove("selected");
        selected.setAttribute("aria-selected", "false");
      }
      selected = tr || null;
      if (!selected) return;
      selected.classList.add("selected");
      selected.setAttribute("aria-selected", "true");
      if (scroll) selected.scrollIntoView({block: "nearest"});
    }
    function move(step) {
      const all = rows();
      if (!all.length) return;
      let i = selected ? all.indexOf(selected) : -1;
      i = i < 0 ? (step > 0 ? 0 : all.length - 1)
                : Math.min(all.length - 1, Math.max(0, i + step));
      select(all[i]);
    }
    function open(e) {
      // Enter on a focused link or button keeps its usual meaning.
      const t = e && e.target;
      if (t && t.closest && t !== document.body && t.closest("a, button, summary")) {
        t.click();
        return;
      }
      if (selected) location.href = $("a.ref", selected).href;
    }
    body.addEventListener("click", (e) => {
      const tr = e.target.closest("tr.incident");
      if (tr) select(tr, false);
    });

    function flash(tr) {
      tr.classList.add("flash");
      setTimeout(() => tr.classList.remove("flash"), 1300);
    }

    // Replaces rows in place with fresh ones from the server (keeping checks and selection).
    async function refresh(ids, {flashRows = true} = {}) {
      if (!ids.length) return;
      let fresh;
      try { fresh = rowsFrom(await getText(`/ui/incidents/rows?ids=${ids.join(",")}`)); }
      catch (err) { return; }
      for (const tr of fresh) {
        const old = rowOf(tr.dataset.id);
        if (!old) continue;
        const was = $("input.pick", old), now = $("input.pick", tr);
        if (was && now) now.checked = was.checked;
        old.replaceWith(tr);
        if (old === selected) { selected = null; select(tr, false); }
        if (flashRows) flash(tr);
      }
      updateBulk();
    }
    function rowsFrom(html) {
      const t = document.createElement("template");
      t.innerHTML = html;
      return Array.from(t.content.querySelectorAll("tr.incident"));
    }
    // New incidents at the top, when they belong to this tab.
    async function insert(ids) {
      let fresh;
      try { fresh = rowsFrom(await getText(`/ui/incidents/rows?ids=${ids.join(",")}`)); }
      catch (err) { return; }
      for (const tr of fresh.reverse()) {  // oldest first, so the newest ends on top
        if (rowOf(tr.dataset.id)) continue;
        const isCandidate = tr.dataset.candidate === "1";
        if (isCandidate !== candidatesTab) continue;
        if (!candidatesTab && !statuses.includes(tr.dataset.status)) continue;
        body.prepend(tr);
        flash(tr);
        $("#empty")?.remove();
      }
    }

    // Counts of the tabs.
    async function refreshCounts() {
      let c;
      try { c = await vigil.call("GET", "/api/v1/incidents/counts"); } catch (err) { return; }
      const tabs = {open: OPEN.reduce((n, s) => n + (c[s] || 0), 0), candidates: c.candidate || 0};
      for (const s of ["firing", "acknowledged", "investigating", "resolved", "closed"])
        tabs[s] = c[s] || 0;
      for (const [key, n] of Object.entries(tabs)) {
        const el = document.querySelector(`#incident-tabs [data-count="${key}"]`);
        if (el) el.textContent = String(n);
      }
    }

    // Selection and bulk actions.
    const bar = $("#bulk-bar");
    const pickAll = $("#pick-all");
    const picked = () => $$("input.pick:checked", body).map((i) => Number(i.value));
    function updateBulk() {
      if (!bar) return;
      const ids = picked();
      $("#bulk-count").textContent = `${ids.length} selected`;
      $$("button[data-bulk]", bar).forEach((b) => { b.disabled = ids.length === 0; });
      if (pickAll) {
        const all = $$("input.pick", body);
        pickAll.checked = all.length > 0 && ids.length === all.length;
        pickAll.indeterminate = ids.length > 0 && ids.length < all.length;
      }
    }
    body.addEventListener("change", (e) => { if (e.target.matches("input.pick")) updateBulk(); });
    pickAll?.addEventListener("change", () => {
      $$("input.pick", body).forEach((i) => { i.checked = pickAll.checked; });
      updateBulk();
    });
    bar?.addEventListener("click", async (e) => {
      const b = e.target.closest("button[data-bulk]");
      if (!b) return;
      const ids = picked();
      if (!ids.length) return;
      b.disabled = true;
      try {
        await vigil.call("POST", "/api/v1/incidents/bulk", {ids, action: b.dataset.bulk});
        vigil.toast(`${ids.length} incident${ids.length === 1 ? "" : "s"} ${DONE[b.dataset.bulk]}`);
        $$("input.pick:checked", body).forEach((i) => { i.checked = false; });
        await refresh(ids);
        refreshCounts();
      } catch (err) { /* shown in the toast */ }
      updateBulk();
    });

    async function actOnSelected(action) {
      if (!selected || !canAct) return;
      const id = selected.dataset.id;
      const ref = $("a.ref", selected).textContent;
      try {
        await vigil.call("POST", api(id, action));
        vigil.toast(`${ref} ${DONE[action]}`);
        await refresh([id]);
        refreshCounts();
      } catch (err) { /* shown in the toast */ }
    }

    vigil.onKey("j", () => move(1));
    vigil.onKey("k", () => move(-1));
    vigil.onKey("Enter", open);
    vigil.onKey("o", open);
    vigil.onKey("/", () => { const q = $("#q"); q?.focus(); q?.select(); });
    if (canAct) {
      vigil.onKey("a", () => actOnSelected("acknowledge"));
      vigil.onKey("r", () => actOnSelected("resolve"));
      vigil.onKey("x", () => {
        const box = selected && $("input.pick", selected);
        if (!box) return;
        box.checked = !box.checked;
        updateBulk();
      });
    }

    // Live: batch what arrives, then one request for rows and one for counts.
    const toRefresh = new Set(), toInsert = new Set();
    let timer = null;
    function flush() {
      timer = null;
      const r = [...toRefresh], n = [...toInsert];
      toRefresh.clear(); toInsert.clear();
      refresh(r);
      if (n.length) insert(n);
      refreshCounts();
    }
    vigil.live((ev) => {
      if (!ev || !ev.incident_id) return;
      const id = String(ev.incident_id);
      if (rowOf(id)) toRefresh.add(id);
      else if (ev.topic === "incident.created" || ev.topic === "incident.candidate") {
        const here = candidatesTab ? ev.topic === "incident.candidate" : ev.topic === "incident.created";
        if (table.dataset.live === "1" && here) toInsert.add(id);
        else if (here) $("#live-notice")?.removeAttribute("hidden");
      }
      if (!timer) timer = setTimeout(flush, 150);
    });
  }

  // ---------------------------------------------------------------- one incident
  function incidentPage(root) {
    const id = root.dataset.id;
    const canAct = !!$("#incident-actions");
    let reloadTimer = null;

    // Swaps the live sections for fresh ones (keeps scroll, typed text and split choices).
    async function reloadSections() {
      reloadTimer = null;
      let doc;
      try {
        doc = new DOMParser().parseFromString(await getText(location.pathname + location.search), "text/html");
      } catch (err) { refreshLater(); return; }
      const now = $$("[data-live][id]").map((el) => el.id).join(" ");
      const next = $$("[data-live][id]", doc).map((el) => el.id).join(" ");
      if (now !== next) { location.reload(); return; }
      const checked = new Set($$("input.split-pick:checked").map((i) => i.value));
      const reassignTo = $("#reassign-to")?.value;
      const focused = document.activeElement;
      const focusKey = focused && (focused.id ? `#${CSS.escape(focused.id)}`
        : focused.dataset && focused.dataset.action
          ? `button[data-action="${focused.dataset.action}"]` : null);
      for (const el of $$("[data-live][id]")) {
        const fresh = doc.getElementById(el.id);
        if (fresh) el.replaceWith(document.importNode(fresh, true));
      }
      $$("input.split-pick").forEach((i) => { i.checked = checked.has(i.value); });
      const pick = $("#reassign-to");
      if (pick && reassignTo && [...pick.options].some((o) => o.value === reassignTo)) pick.value = reassignTo;
      const nr = doc.getElementById("incident");
      if (nr) root.dataset.status = nr.dataset.status;
      if (focusKey && !document.body.contains(focused)) $(focusKey)?.focus();
      refreshLater();
    }
    const soon = () => { clearTimeout(reloadTimer); reloadTimer = setTimeout(reloadSections, 250); };
    // While the escalation is about to change (a step due, pages being sent), look again
    // when the server says to.
    let refreshTimer = null;
    function refreshLater() {
      clearTimeout(refreshTimer);
      const ms = Number($("#incident-escalation")?.dataset.refreshIn || 0);
      refreshTimer = ms > 0 ? setTimeout(reloadSections, Math.max(ms, 1000)) : null;
    }
    refreshLater();

    async function run(fn, done) {
      try {
        await fn();
        vigil.toast(done);
        await reloadSections();
        return true;
      } catch (err) { return false; /* shown in the toast */ }
    }

    const actions = {
      acknowledge: () => run(() => vigil.call("POST", api(id, "acknowledge")), "Acknowledged"),
      investigate: () => run(() => vigil.call("POST", api(id, "investigate")), "Investigating"),
      close: () => run(() => vigil.call("POST", api(id, "close")), "Closed"),
      reopen: () => run(() => vigil.call("POST", api(id, "reopen")), "Reopened"),
      confirm: () => run(() => vigil.call("POST", api(id, "confirm")), "Confirmed"),
      dismiss: () => run(() => vigil.call("POST", api(id, "dismiss")), "Dismissed"),
      escalate: () => run(() => vigil.call("POST", api(id, "escalate")), "Escalated"),
      "assign-me": () => run(() => vigil.call("POST", api(id, "assign")), "Assigned to you"),
      noise: () => run(() => vigil.call("PATCH", api(id), {noise: true}), "Marked as noise"),
      resolve: async () => {
        const note = $("#resolve-note");
        const text = note ? note.value.trim() : "";
        const ok = await run(() => vigil.call("POST", api(id, "resolve"),
                                              text ? {note: text} : undefined), "Resolved");
        if (ok && note) note.value = "";
      },
      split: async () => {
        const ids = $$("input.split-pick:checked").map((i) => Number(i.value));
        if (!ids.length) { vigil.toast("Select the alerts to split off first"); return; }
        try {
          const made = await vigil.call("POST", api(id, "split"), {alert_ids: ids});
          vigil.toast(`Split into INC-${made.number}`);
          location.href = `/ui/incidents/${made.id}`;
        } catch (err) { /* shown in the toast */ }
      },
    };
    const forms = {
      assign: async (form) => {
        const input = $("#assign-to", form);
        let who = input.value.trim();
        if (!who) return;
        if (!who.includes(":")) who = `user:${who}`;
        if (await run(() => vigil.call("POST", api(id, "assign"), {assignee: who}),
                      `Assigned to ${who}`)) input.value = "";
      },
      merge: async (form) => {
        const input = $("#merge-into", form);
        try {
          const target = await lookup(input.value);
          await vigil.call("POST", api(id, "merge"), {into: target.id});
          vigil.toast(`Merged into INC-${target.number}`);
          location.href = `/ui/incidents/${target.id}`;
        } catch (err) { /* shown in the toast */ }
      },
      link: async (form) => {
        const input = $("#link-to", form);
        let target;
        try { target = await lookup(input.value); } catch (err) { return; }
        if (await run(() => vigil.call("POST", api(id, "links"), {incident_id: target.id}),
                      `Linked INC-${target.number}`)) input.value = "";
      },
      reassign: async (form) => {
        const value = $("#reassign-to", form).value;
        const at = value.indexOf(":");
        if (at < 1) { vigil.toast("Choose a policy, person or schedule first"); return; }
        const kind = value.slice(0, at), name = value.slice(at + 1);
        await run(() => vigil.call("POST", api(id, "reassign"), {[kind]: name}),
                  `Reassigned to ${kind} ${name}`);
      },
      comment: async (form) => {
        const text = $("#comment-text", form);
        if (!text.value.trim()) return;
        if (await run(() => vigil.call("POST", api(id, "comments"), {text: text.value}),
                      "Comment added")) text.value = "";
      },
    };

    document.addEventListener("click", (e) => {
      const b = e.target.closest("button[data-action]");
      if (!b || b.type === "submit" || !root.contains(b)) return;
      const fn = actions[b.dataset.action];
      if (!fn) return;
      b.disabled = true;
      Promise.resolve(fn()).finally(() => { if (document.body.contains(b)) b.disabled = false; });
    });
    document.addEventListener("submit", (e) => {
      const form = e.target.closest("form[data-form]");
      if (!form || !root.contains(form)) return;
      e.preventDefault();
      const fn = forms[form.dataset.form];
      if (fn) fn(form);
    });
    document.addEventListener("change", (e) => {
      const sel = e.target.closest("select[data-field]");
      if (!sel || !root.contains(sel)) return;
      const field = sel.dataset.field;
      run(() => vigil.call("PATCH", api(id), {[field]: sel.value || null}),
          `${field[0].toUpperCase()}${field.slice(1)} set to ${sel.value || "none"}`);
    });

    if (canAct) {
      vigil.onKey("a", () => { if ($('button[data-action="acknowledge"]')) actions.acknowledge(); });
      vigil.onKey("c", () => $("#comment-text")?.focus());
    }
    vigil.live((ev) => { if (ev && String(ev.incident_id) === id) soon(); });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const table = document.getElementById("incident-table");
    if (table) listPage(table);
    const incident = document.getElementById("incident");
    if (incident) incidentPage(incident);
  });
})();
