// The Homeroom ops console: sign in as an operator, then one screen of dependency status, schema
// issues and fixes, backups, audit chains and the fix switch. The access token lives in memory
// only; every value from the server is written with textContent, never as HTML.
"use strict";

const state = { token: null, refresh: null };
const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const badge = (text, kind = text) => el("span", { class: `badge ${kind}` }, text);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "—");
const size = (bytes) => (bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`);

// Every cell carries its column's name: hidden beside the header row, shown at phone width, where
// rows become stacks of label and value (console.css). An empty value is a dash, so no label stands alone.
function table(headers, rows) {
  const cell = (value, i) => el("td", {}, el("span", { class: "cell-label" }, headers[i]),
    el("span", { class: "cell-value" }, value === "" || value === null || value === undefined ? "—" : value));
  return el("table", {}, el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map(cell)))));
}

function show(target, ...nodes) {
  $(target).replaceChildren(...nodes);
}

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 401 && state.token) {
    signOut("Your session has ended; sign in again.");
    throw new ApiError(401, "Signed out");
  }
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, (data && data.detail) || `HTTP ${response.status}`);
  return data;
}

function banner(message) {
  $("banner").textContent = message || "";
  $("banner").hidden = !message;
}

// Ask before a change, saying what it will do: true only when the operator confirms. Cancel, Escape
// or closing the dialog changes nothing.
function confirmChange(title, lines, confirmLabel) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-body").replaceChildren(...lines.filter((line) => line).map((line) => (line instanceof Node ? line : el("p", {}, line))));
  $("confirm-ok").textContent = confirmLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    $("confirm-cancel").focus();
  });
}

function askToFix(issue) {
  return confirmChange("Fix this issue?", [
    el("p", {}, "Issue: ", el("code", {}, issue.id), ` — ${issue.message}`),
    "These statements will run on the database:",
    el("pre", {}, issue.fix_sql.join("\n")),
    "A fresh backup of the database is taken first; if the backup fails, nothing is changed.",
    "The schema is then scanned again, and the fix is recorded in the fix history and the audit trail.",
  ], "Back up and fix");
}

function askToSwitch(sw) {
  if (sw.by_switch) {
    return confirmChange("Switch fixing off?", [
      "No fix will run on any instance until fixing is switched on again: neither the Fix buttons here " +
        "nor the automatic fixes of a watcher (flask db doctor --watch --autofix).",
      "Scans and drafts go on as before. The change is recorded in the audit trail.",
    ], "Yes, switch fixing off");
  }
  return confirmChange("Switch fixing on?", [
    "Fixes may run again on every instance: the Fix buttons here, and a watcher started with --autofix " +
      "fixes safe issues in critical tables by itself, each after a fresh backup.",
    sw.by_setting ? "" : "DB_DOCTOR_AUTOFIX=false still keeps fixing off until that setting is changed.",
    "The change is recorded in the audit trail.",
  ], "Yes, switch fixing on");
}

async function busy(button, action) {
  button.disabled = true;
  banner("");
  try {
    await action();
  } catch (error) {
    if (error.status !== 401) banner(error.message);
  } finally {
    button.disabled = false;
  }
}

// --- sections -------------------------------------------------------------------------------------

// A section that failed to load says so (a 401 has already signed the operator out).
function failed(target, error) {
  if (error.status !== 401) show(target, el("p", { class: "error" }, `Could not load: ${error.message}`));
}

async function loadDependencies() {
  try {
    const health = await call("GET", "/api/health");
    const rows = Object.entries(health.components).map(([name, c]) => [
      name, badge(c.status), c.latency_ms === undefined ? "" : `${c.latency_ms} ms`, c.error || c.reason || "",
    ]);
    const pool = health.database_pool;
    show("deps",
      el("p", {}, "Overall ", badge(health.status), ` · version ${health.version} · up ${Math.round(health.uptime_seconds)} s`),
      table(["Component", "Status", "Latency", "Note"], rows),
      el("p", { class: "muted" }, `Database pool: ${pool.checked_out} of ${pool.size} in use, ${pool.overflow} overflow`));
  } catch (error) {
    failed("deps", error);
  }
}

function issueRow(issue, draft) {
  let action = "";
  if (issue.fixable) {
    action = el("button", { type: "button", "data-issue": issue.id, onclick: async (event) => {
      const button = event.currentTarget;
      if (!(await askToFix(issue))) return;
      await busy(button, async () => {
        const result = await call("POST", "/api/ops/db-health/fixes", { issue_ids: [issue.id] });
        const outcome = result.outcomes[0];
        if (outcome.status !== "ok") banner(`${outcome.issue_id}: ${outcome.message}`);
        await Promise.all([loadSchema(), loadBackups()]);
      });
    } }, "Fix");
  } else if (issue.needs_review && draft) {
    action = el("button", { type: "button", class: "secondary", onclick: async (event) => busy(event.currentTarget, async () => {
      $("draft").textContent = await call("GET", `/api/ops/db-health/drafts/${encodeURIComponent(draft)}`);
      $("draft").hidden = false;
    }) }, "View draft");
  }
  return [badge(issue.severity), el("code", {}, issue.id), issue.message, action];
}

async function loadSchema() {
  try {
    const health = await call("GET", "/api/ops/db-health");
    const sw = health.switch;
    const toggle = el("button", { type: "button", id: "switch-toggle", class: sw.by_switch ? "secondary" : "",
      onclick: async (event) => {
        const button = event.currentTarget;
        if (!(await askToSwitch(sw))) return;
        await busy(button, async () => {
          await call("POST", "/api/ops/db-health/autofix", { enabled: !sw.by_switch });
          await loadSchema();
        });
      } }, sw.by_switch ? "Switch fixing off" : "Switch fixing on");
    show("switch", el("p", {}, "Fixing: ", sw.fixes_enabled ? badge("on", "ok") : badge("off", "failed"),
      sw.fixes_enabled ? " allowed " : " switched off ",
      sw.by_setting ? "" : "(DB_DOCTOR_AUTOFIX=false) ", toggle));
    const scan = health.last_scan;
    if (!scan) {
      show("schema", el("p", { class: "muted" }, "No scan yet: press “Scan now”."));
    } else {
      const shown = scan.issues.filter((issue) => issue.severity !== "info");
      const info = scan.issues.length - shown.length;
      const summary = el("p", {}, `Last scan ${when(scan.finished_at)} (${scan.trigger}): `, badge(scan.status === "clean" ? "ok" : scan.status),
        info ? ` · ${info} informational note(s) not shown` : "");
      show("schema", summary, shown.length
        ? table(["Severity", "Issue", "What", "Action"], shown.map((issue) => issueRow(issue, scan.draft)))
        : el("p", { class: "muted", id: "schema-clean" }, "No issues: the database matches the code."));
    }
    show("fixes", health.fixes.length
      ? table(["When", "Issue", "Result", "Backup"], health.fixes.map((f) => [when(f.finished_at), el("code", {}, f.issue_id),
        badge(f.status), f.backup_file || ""]))
      : el("p", { class: "muted" }, "No fixes yet."));
  } catch (error) {
    failed("schema", error);
  }
}

async function loadBackups() {
  try {
    const b = await call("GET", "/api/ops/backups");
    if (!b.configured) {
      show("backups", el("p", { class: "muted" }, "Backups are not configured (BACKUP_DIR)."));
      $("backup-now").disabled = true;
      return;
    }
    const age = b.age_hours === null ? "no backup yet" : `last good backup ${b.age_hours} h ago`;
    const status = b.age_hours !== null && b.age_hours <= b.max_age_hours ? "ok" : "degraded";
    show("backups", el("p", {}, badge(status), ` ${age} (limit ${b.max_age_hours} h)`),
      b.files.length
        ? table(["File", "Size", "Made", "Last verified"], b.files.map((f) => [el("code", {}, f.name), size(f.bytes),
          when(f.created_at), f.last_verified_at ? when(f.last_verified_at) : "never"]))
        : el("p", { class: "muted" }, "No backup files yet."));
  } catch (error) {
    failed("backups", error);
  }
}

async function loadAudit() {
  try {
    const audit = await call("GET", "/api/ops/audit/verify");
    show("audit", el("p", {}, "All chains: ", badge(audit.status)),
      audit.chains.length
        ? table(["School", "Events", "Status", "Problem"], audit.chains.map((c) => [c.school_name || c.chain_id, c.events,
          badge(c.status), c.problem || ""]))
        : el("p", { class: "muted" }, "No audit chains yet."));
  } catch (error) {
    failed("audit", error);
  }
}

function jobAction(job, verb, label, cls) {
  return el("button", { type: "button", class: cls, "data-job": job.id, "data-action": verb, onclick: async (event) => {
    const button = event.currentTarget;
    const ok = await confirmChange(`${label} this ${job.kind} job?`, [
      verb === "retry" ? "It goes back to the queue now, with its attempts counted afresh." : "It will never run again.",
      "The change is recorded in the audit trail.",
    ], label);
    if (!ok) return;
    await busy(button, async () => {
      await call("POST", `/api/ops/jobs/${encodeURIComponent(job.id)}/${verb}`);
      await Promise.all([loadJobs(), loadDependencies()]);
    });
  } }, label);
}

async function loadJobs() {
  try {
    const overview = await call("GET", "/api/ops/jobs");
    const counts = Object.entries(overview.counts).flatMap(([status, kinds]) =>
      Object.entries(kinds).map(([kind, n]) => [kind, badge(status), n]));
    show("jobs",
      counts.length ? table(["Kind", "Status", "Jobs"], counts) : el("p", { class: "muted" }, "No jobs waiting."),
      overview.dead.length
        ? table(["Dead letter", "Attempts", "Last error", "Gave up", "Action"], overview.dead.map((job) => [
          el("code", {}, job.kind), job.attempts, job.last_error || "", when(job.finished_at),
          el("span", {}, jobAction(job, "retry", "Retry", ""), " ", jobAction(job, "discard", "Discard", "secondary"))]))
        : el("p", { class: "muted", id: "no-dead-jobs" }, "No dead letters."),
      overview.integrations.length
        ? table(["School", "Xero", "Organisation", "Last sync", "Problem"], overview.integrations.map((i) => [
          i.school, badge(i.state === "connected" ? "ok" : i.state), i.organisation || "",
          i.last_sync_at ? when(i.last_sync_at) : "never", i.last_error || ""]))
        : el("p", { class: "muted" }, "No school has connected Xero."));
  } catch (error) {
    failed("jobs", error);
  }
}

const loadAll = () => Promise.all([loadDependencies(), loadSchema(), loadBackups(), loadJobs(), loadAudit()]);

// --- signing in and out ---------------------------------------------------------------------------

async function endSession() {
  if (state.refresh) await call("POST", "/api/auth/logout", { refresh_token: state.refresh }).catch(() => {});
  state.refresh = null;
}

function signOut(message) {
  state.token = null;
  if ($("confirm").open) $("confirm").close("cancel");
  $("console").hidden = true;
  $("who").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message || "";
  $("sign-in-error").hidden = !message;
}

async function signIn(event) {
  event.preventDefault();
  const button = event.submitter || $("sign-in-form").querySelector("button");
  button.disabled = true;
  $("sign-in-error").hidden = true;
  try {
    const grant = await call("POST", "/api/auth/login",
      { email: $("email").value, password: $("password").value, return_refresh_token: true });
    state.refresh = grant.refresh_token;
    if (grant.user.role !== "operator") {
      await endSession();
      throw new ApiError(403, "This console is for platform operators only.");
    }
    state.token = grant.access_token;
    $("password").value = "";
    $("who-email").textContent = grant.user.email;
    $("who").hidden = false;
    $("sign-in").hidden = true;
    $("console").hidden = false;
    await loadAll();
  } catch (error) {
    state.token = null;
    $("sign-in-error").textContent = error.status === 401 ? "Wrong email or password." : error.message;
    $("sign-in-error").hidden = false;
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", signIn);
  $("confirm-ok").addEventListener("click", () => $("confirm").close("ok"));
  $("confirm-cancel").addEventListener("click", () => $("confirm").close("cancel"));
  $("sign-out").addEventListener("click", async () => {
    await endSession();
    signOut("Signed out.");
  });
  $("scan").addEventListener("click", (event) => busy(event.currentTarget, async () => {
    await call("POST", "/api/ops/db-health/scan");
    await loadSchema();
  }));
  $("backup-now").addEventListener("click", (event) => busy(event.currentTarget, async () => {
    const made = await call("POST", "/api/ops/backups");
    banner("");
    await Promise.all([loadBackups(), loadDependencies()]);
    $("backups").prepend(el("p", { class: "muted", id: "backup-made" }, `Backup written: ${made.name} (${size(made.bytes)})`));
  }));
});
