// The QA console: reads the mock's admin API and /metrics once a second
// and renders them; its buttons call the same admin API QA scripts use.
// Every value from the server goes into the page as text (never as HTML):
// activity titles, member names and device platforms are user input.
"use strict";

const POLL_MS = 1000;
const LEDGER_ENTRIES = 5;

// --- small DOM helpers -----------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// One table: `columns` are [heading, row => cell, options?]; `key` names
// each row for tests (data-row).
function table(rows, columns, key) {
  if (!rows.length) return el("p", { class: "empty" }, "none");
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, columns.map(([heading, , options]) => el("th", { class: options?.num ? "num" : null }, heading)))),
    el(
      "tbody",
      {},
      rows.map((row) =>
        el(
          "tr",
          { "data-row": key ? key(row) : null },
          columns.map(([, cell, options]) => {
            const value = cell(row);
            return el("td", { class: [options?.num ? "num" : "", options?.wrap ? "wrap" : ""].join(" ").trim() || null }, value);
          }),
        ),
      ),
    ),
  );
}

function show(id, rows, columns, key) {
  document.getElementById(id).replaceChildren(table(rows, columns, key));
  const count = document.getElementById(`${id}-count`);
  if (count) count.textContent = `(${rows.length})`;
}

const short = (id, n = 12) => (id && id.length > n + 1 ? el("span", { title: id, class: "mono" }, `${id.slice(0, n)}…`) : el("span", { class: "mono" }, id ?? "–"));
const when = (ms) => (ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) : "–");
const bytes = (n) => {
  if (n === undefined || n === null) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
};
const duration = (ms) => {
  const s = Math.floor((ms || 0) / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
};
const badge = (text) => el("span", { class: `state-${String(text).toLowerCase()}` }, text);

// --- the admin API -----------------------------------------------------------

async function read(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return path === "/metrics" ? response.text() : response.json();
}

// Calls a mutating admin route; says what happened under the controls.
async function act(description, path, init) {
  const result = document.getElementById("action-result");
  try {
    const response = await fetch(path, {
      ...init,
      headers: init?.body ? { "content-type": "application/json" } : {},
    });
    if (!response.ok) {
      let reason = `${response.status}`;
      try {
        const problem = await response.json();
        reason = [problem.title, problem.detail].filter(Boolean).join(": ");
      } catch (_) { /* not problem+json */ }
      result.className = "result bad";
      result.textContent = `${description} refused: ${reason}`;
      return false;
    }
    result.className = "result good";
    result.textContent = `${description}: done`;
    await refresh();
    return true;
  } catch (error) {
    result.className = "result bad";
    result.textContent = `${description} failed: ${error.message}`;
    return false;
  }
}

// --- metrics -----------------------------------------------------------------

// Parses the Prometheus text format into [{name, labels, value}].
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const [, name, value] of (match[2] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[name] = value.replace(/\\(.)/g, "$1");
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

const sum = (samples, name, filter = () => true) =>
  samples.filter((s) => s.name === name && filter(s.labels)).reduce((total, s) => total + s.value, 0);

// The console's own polling and QA's admin calls are left out of the API
// figures, so they show what apps do.
const isApi = (labels) => !/^(\w+ \/admin|GET \/metrics$|GET \/openapi\.json$|GET \/healthz$)/.test(labels.route || "");

let previous = null;

function showMetrics(text) {
  const samples = parseMetrics(text);
  const now = performance.now();
  const requests = sum(samples, "edgepoints_mock_requests_total", isApi);
  const rate = previous ? ((requests - previous.requests) * 1000) / (now - previous.at) : 0;
  previous = { requests, at: now };
  const latencySum = sum(samples, "edgepoints_mock_request_duration_seconds_sum", isApi);
  const latencyCount = sum(samples, "edgepoints_mock_request_duration_seconds_count", isApi);
  const serverErrors = sum(samples, "edgepoints_mock_requests_total", (l) => isApi(l) && l.status?.startsWith("5"));
  const cards = [
    ["API requests", requests],
    ["API requests / s", rate.toFixed(1)],
    ["mean API latency", latencyCount ? `${((latencySum / latencyCount) * 1000).toFixed(2)} ms` : "–"],
    ["4xx answers", sum(samples, "edgepoints_mock_requests_total", (l) => isApi(l) && l.status?.startsWith("4"))],
    ["5xx answers", serverErrors, serverErrors > 0],
    ["idempotent replays", sum(samples, "edgepoints_mock_idempotent_replays_total")],
    ["faults fired", sum(samples, "edgepoints_mock_faults_fired_total"), sum(samples, "edgepoints_mock_faults_fired_total") > 0],
    ["heartbeats accepted", sum(samples, "edgepoints_mock_heartbeats_total", (l) => l.outcome === "accepted")],
    ["heartbeats refused", sum(samples, "edgepoints_mock_heartbeats_total", (l) => l.outcome === "refused")],
    ["routing lookups", sum(samples, "edgepoints_mock_routing_lookups_total")],
  ];
  const batches = sum(samples, "edgepoints_mock_signature_batch_size_count");
  const failedBatches = sum(samples, "edgepoints_mock_signature_batch_size_count", (l) => l.outcome === "failed");
  cards.push(["signatures per batch", batches ? (sum(samples, "edgepoints_mock_signature_batch_size_sum") / batches).toFixed(1) : "–"]);
  cards.push(["failed signature batches", failedBatches, failedBatches > 0]);
  for (const s of samples.filter((s) => s.name === "edgepoints_mock_queue_length")) {
    const pending = sum(samples, "edgepoints_mock_queue_pending", (l) => l.stream === s.labels.stream);
    cards.push([`queue ${s.labels.stream}`, `${s.value} / ${pending} pending`, pending > 0]);
  }
  document.getElementById("metric-cards").replaceChildren(
    ...cards.map(([label, value, alert]) =>
      el("div", { class: alert ? "card alert" : "card", "data-metric": label }, el("div", { class: "value" }, value), el("div", { class: "label" }, label)),
    ),
  );
  const byRoute = new Map();
  for (const s of samples.filter((s) => s.name === "edgepoints_mock_requests_total")) {
    const row = byRoute.get(s.labels.route) || { route: s.labels.route, statuses: {}, total: 0 };
    row.statuses[s.labels.status] = (row.statuses[s.labels.status] || 0) + s.value;
    row.total += s.value;
    byRoute.set(s.labels.route, row);
  }
  for (const s of samples.filter((s) => s.name === "edgepoints_mock_faults_fired_total")) {
    const row = byRoute.get(s.labels.route);
    if (row) row.faults = (row.faults || 0) + s.value;
  }
  const routes = [...byRoute.values()].sort((a, b) => b.total - a.total);
  show("routes", routes, [
    ["route", (r) => el("code", {}, r.route)],
    ["requests", (r) => r.total, { num: true }],
    ["by status", (r) => Object.entries(r.statuses).sort().map(([status, n]) => `${status}×${n}`).join("  ")],
    ["faults fired", (r) => r.faults || "", { num: true }],
  ], (r) => r.route);
}

// --- the panels --------------------------------------------------------------

function consentOf(device) {
  const consent = device.consent;
  if (!consent) return badge("none");
  return el("span", {}, badge(consent.decision.decision), ` rev ${consent.revision}`);
}

function showState(state) {
  document.getElementById("store").textContent = state.store;
  show("devices", state.devices, [
    ["device", (d) => short(d.device_id, 16)],
    ["platform", (d) => `${d.platform} ${d.app_version}`],
    ["consent", consentOf],
    ["registered", (d) => when(d.registered_at_ms)],
  ], (d) => d.device_id);
  show("nodes", state.nodes, [
    ["device", (n) => short(n.device_id, 16)],
    ["serving at", (n) => n.url ?? "stopped"],
    ["reachable", (n) => (n.reachable.length ? n.reachable.join(", ") : el("span", { class: "bad" }, "unreachable"))],
    ["items", (n) => n.holdings.length, { num: true }],
    ["load", (n) => `${n.load}/s`, { num: true }],
    ["announced", (n) => when(n.recorded_at_ms)],
  ], (n) => n.device_id);
}

function showFaults(faults) {
  show("faults", faults, [
    ["route", (f) => el("code", {}, f.route ?? "every API route")],
    ["action", (f) => f.action + (f.status ? ` ${f.status}` : "") + (f.delay_ms ? ` ${f.delay_ms} ms` : "")],
    ["left", (f) => f.remaining ?? "every", { num: true }],
    ["probability", (f) => f.probability ?? 1, { num: true }],
  ], (f) => `${f.route ?? "*"} ${f.action}`);
}

function ledgerLine(entry) {
  if (!entry) return "–";
  return `${entry.points > 0 ? "+" : ""}${entry.points} ${entry.reason}: ${entry.detail}`;
}

function showPoints(points) {
  const columns = (who) => [
    [who, (a) => short(a.owner, 16)],
    ["balance", (a) => a.balance, { num: true }],
    ["online", (a) => duration(a.online_ms), { num: true }],
    ["delivered", (a) => bytes(a.delivered_bytes), { num: true }],
    ["entries", (a) => a.entries + (a.owed ? ` (+${a.owed} owed)` : ""), { num: true }],
    ["latest", (a) => ledgerLine(a.recent[0]), { wrap: true }],
  ];
  show("device-points", points.devices, columns("device"), (a) => a.owner);
  show("member-points", points.members, columns("member"), (a) => a.owner);
}

function showContent(items) {
  show("content", items, [
    ["hash", (i) => short(i.hash, 16)],
    ["size", (i) => bytes(i.size), { num: true }],
    ["priority", (i) => i.priority, { num: true }],
    ["expires", (i) => when(i.expires_at_ms)],
    ["", (i) => el("button", { class: "small danger", "data-action": "withdraw", onclick: () => act(`withdraw ${i.hash.slice(0, 12)}`, `/admin/content/${i.hash}`, { method: "DELETE" }) }, "Withdraw")],
  ], (i) => i.hash);
}

function couponState(coupon) {
  if (coupon.redemption && !coupon.redemption.rolled_back_at_ms) return badge("redeemed");
  if (coupon.revoked) return badge("revoked");
  if (coupon.claim_rolled_back_at_ms) return badge("given back");
  if (coupon.refund) return badge(`refunded ${coupon.refund.points}`);
  if (coupon.redemption) return badge("rolled back");
  return badge("claimed");
}

function showActivities(activities) {
  show("activities", activities, [
    ["activity", (a) => a.activity.draft.title, { wrap: true }],
    ["merchant", (a) => a.activity.merchant_name],
    ["state", (a) => badge(a.activity.state)],
    ["findings", (a) => a.activity.findings.map((f) => `${f.field}: ${f.category} “${f.text}”`).join("; ") || "–", { wrap: true }],
    ["claimed", (a) => a.activity.claimed, { num: true }],
    ["redeemed", (a) => a.activity_redeemed, { num: true }],
  ], (a) => a.activity.activity_id);
  const coupons = activities.flatMap((a) =>
    Object.entries(a.coupons).map(([serial, coupon]) => ({ serial, coupon, title: a.activity.draft.title })),
  );
  show("coupons", coupons, [
    ["activity", (c) => c.title, { wrap: true }],
    ["serial", (c) => short(c.serial, 10)],
    ["holder", (c) => short(c.coupon.holder, 14)],
    ["claimed", (c) => when(c.coupon.claimed_at_ms)],
    ["state", (c) => couponState(c.coupon)],
    ["redemption", (c) => (c.coupon.redemption ? `${c.coupon.redemption.order_ref}${c.coupon.redemption.offline ? " (offline)" : ""} at ${when(c.coupon.redemption.redeemed_at_ms)}` : "–")],
  ], (c) => c.serial);
}

function showMembers(members, sessions) {
  show("members", members, [
    ["member", (m) => m.member],
    ["id", (m) => short(m.member_id, 14)],
    ["created", (m) => when(m.created_at_ms)],
    ["sessions", (m) => sessions.filter((s) => s.member_id === m.member_id).length, { num: true }],
  ], (m) => m.member);
  show("sessions", sessions, [
    ["member", (s) => s.member],
    ["device", (s) => short(s.device_id, 14)],
    ["from", (s) => s.seen_from],
    ["last access", (s) => when(s.last_access_ms)],
    ["", (s) => el("button", { class: "small danger", "data-action": "expire", onclick: () => act(`expire the session of ${s.member}`, `/admin/sessions/${encodeURIComponent(s.session_key)}`, { method: "DELETE" }) }, "Expire")],
  ], (s) => s.member);
}

function showRental(vehicles, rentals) {
  show("vehicles", vehicles, [
    ["vehicle", (v) => v.vehicle_id],
    ["plate", (v) => v.plate],
    ["state", (v) => badge(v.state)],
    ["battery", (v) => `${v.battery_percent} %`, { num: true }],
    ["station", (v) => v.station_id ?? "–"],
    ["rental", (v) => (v.rental_id ? short(v.rental_id, 10) : "–")],
  ], (v) => v.vehicle_id);
  show("rentals", rentals, [
    ["rental", (r) => short(r.rental_id, 10)],
    ["member", (r) => short(r.member_id, 12)],
    ["vehicle", (r) => r.vehicle_id],
    ["state", (r) => badge(r.state)],
    ["reserved", (r) => when(r.reserved_at_ms)],
    ["fee", (r) => (r.fee ? `${(r.fee.total_cents / 100).toFixed(2)} ${r.fee.currency}` : "–"), { num: true }],
  ], (r) => r.rental_id);
}

function showQueues(queues) {
  const blocks = queues.streams.map((stream) =>
    el(
      "div",
      { "data-stream": stream.stream },
      el("h3", {}, `${stream.stream} `, el("span", { class: "muted" }, `group ${stream.group}: ${stream.length} messages, ${stream.pending.length} pending`)),
      stream.pending.length
        ? table(stream.pending, [
            ["pending entry", (p) => el("code", {}, p.id)],
            ["consumer", (p) => p.consumer],
            ["idle", (p) => duration(p.idle_ms), { num: true }],
            ["deliveries", (p) => p.deliveries, { num: true }],
          ])
        : el("p", { class: "empty" }, "nothing pending"),
    ),
  );
  blocks.push(
    el("h3", {}, "Bills"),
    table(queues.bills, [
      ["rental", (b) => short(b.rental_id, 10)],
      ["vehicle", (b) => b.vehicle_id],
      ["amount", (b) => `${(b.fee.total_cents / 100).toFixed(2)} ${b.fee.currency}`, { num: true }],
      ["billed", (b) => when(b.billed_at_ms)],
      ["by", (b) => b.consumer],
    ]),
    el("h3", {}, "SMS sent"),
    table(queues.sms, [
      ["to", (m) => m.to],
      ["text", (m) => m.text, { wrap: true }],
      ["sent", (m) => when(m.sent_at_ms)],
      ["by", (m) => m.consumer],
    ]),
  );
  document.getElementById("queues").replaceChildren(...blocks);
}

// --- polling -----------------------------------------------------------------

let timer = null;

async function refresh() {
  const connection = document.getElementById("connection");
  try {
    const [state, clock, faults, points, content, activities, members, sessions, vehicles, rentals, queues, metrics] =
      await Promise.all([
        "/admin/state", "/admin/clock", "/admin/faults", `/admin/points?recent=${LEDGER_ENTRIES}`, "/admin/content",
        "/admin/activities", "/admin/members", "/admin/sessions", "/admin/vehicles", "/admin/rentals", "/admin/queues",
        "/metrics",
      ].map(read));
    document.getElementById("clock").textContent = when(clock.now_ms);
    showState(state);
    showFaults(faults);
    showPoints(points);
    showContent(content);
    showActivities(activities);
    showMembers(members, sessions);
    showRental(vehicles, rentals);
    showQueues(queues);
    showMetrics(metrics);
    connection.className = "badge ok";
    connection.textContent = `live · ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    connection.className = "badge down";
    connection.textContent = `unreachable: ${error.message}`;
  }
}

function schedule() {
  clearTimeout(timer);
  if (!document.getElementById("live").checked) return;
  timer = setTimeout(async () => {
    await refresh();
    schedule();
  }, POLL_MS);
}

// The routes a fault can name: every operation the description lists
// outside the admin, health and metrics routes (which are never faulted).
async function loadFaultRoutes() {
  const spec = await read("/openapi.json");
  const select = document.getElementById("fault-route");
  const routes = [];
  for (const [path, operations] of Object.entries(spec.paths)) {
    if (!path.startsWith("/v1/") && !path.startsWith("/origin/")) continue;
    for (const method of Object.keys(operations)) {
      if (["get", "put", "post", "delete", "patch"].includes(method)) routes.push(`${method.toUpperCase()} ${path}`);
    }
  }
  routes.sort((a, b) => a.split(" ")[1].localeCompare(b.split(" ")[1]) || a.localeCompare(b));
  select.append(...routes.map((route) => el("option", { value: route }, route)));
}

function faultRule() {
  const value = (id) => document.getElementById(id).value;
  const rule = { action: value("fault-action") };
  if (value("fault-route")) rule.route = value("fault-route");
  if (rule.action === "fail") rule.status = Number(value("fault-status"));
  if (rule.action === "delay") rule.delay_ms = Number(value("fault-delay"));
  if (value("fault-count")) rule.count = Number(value("fault-count"));
  if (value("fault-probability")) rule.probability = Number(value("fault-probability"));
  return rule;
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("fault-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const rule = faultRule();
    act(`add fault ${rule.action} on ${rule.route ?? "every API route"}`, "/admin/faults", { method: "POST", body: JSON.stringify(rule) });
  });
  document.getElementById("faults-clear").addEventListener("click", () => act("clear all faults", "/admin/faults", { method: "DELETE" }));
  document.getElementById("clock-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const amount = Number(document.getElementById("clock-amount").value);
    const unit = Number(document.getElementById("clock-unit").value);
    act(`move the clock ${amount} × ${unit / 1000} s`, "/admin/clock", { method: "POST", body: JSON.stringify({ advance_ms: amount * unit }) });
  });
  document.getElementById("live").addEventListener("change", schedule);
  loadFaultRoutes().catch((error) => {
    document.getElementById("action-result").textContent = `routes unavailable: ${error.message}`;
  });
  refresh().then(schedule);
});
