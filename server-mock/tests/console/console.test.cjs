// End-to-end tests of the QA console: headless Chromium loads /admin/ from a
// running mock, the SDK (through the `edgepoints` command) drives flows
// against the same mock, and the page must show them; the page's buttons
// must change what the SDK sees. Run by scripts/test-console.sh, which
// starts the mock and says where everything is:
//
//   EDGEPOINTS_MOCK_URL   the running mock
//   EDGEPOINTS_CLI        the `edgepoints` binary
//   CHROMIUM              the browser (Debian's chromium)
"use strict";

const { test, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const { execFile } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { chromium } = require("playwright-core");

const MOCK = process.env.EDGEPOINTS_MOCK_URL;
const CLI = process.env.EDGEPOINTS_CLI;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const WAIT_MS = 15000;

let browser;
let page;
let problems = [];
const work = fs.mkdtempSync(path.join(os.tmpdir(), "edgepoints-console-"));

// Runs the SDK's command line; resolves with its exit code and output.
function edgepoints(...args) {
  return new Promise((resolve) => {
    execFile(CLI, args, { timeout: 60000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function ok(...args) {
  const run = await edgepoints(...args);
  assert.equal(run.code, 0, `edgepoints ${args.join(" ")} failed:\n${run.stdout}\n${run.stderr}`);
  return run.stdout;
}

// An SDK instance: the command line over its own data directory.
// (`device` takes them before its action, the other groups after it.)
function device(name, retry = []) {
  const options = ["--control-plane", MOCK, "--data-dir", path.join(work, name), ...retry];
  return (group, action, ...rest) =>
    group === "device" ? edgepoints(group, ...options, action, ...rest) : edgepoints(group, action, ...options, ...rest);
}

async function admin(pathname, init) {
  const response = await fetch(`${MOCK}${pathname}`, init);
  assert.ok(response.ok, `${pathname}: ${response.status}`);
  return response.status === 204 ? null : response.json();
}

// Polls `check` (which throws until it holds) until it holds or time is up.
async function eventually(check, what) {
  const deadline = Date.now() + WAIT_MS;
  let last;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${WAIT_MS} ms: ${last?.message}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const rowText = (section, key) => page.locator(`#${section} tr[data-row="${key}"]`).innerText({ timeout: 200 });
const metric = async (label) =>
  Number(await page.locator(`[data-metric="${label}"] .value`).innerText({ timeout: 200 }));

before(async () => {
  assert.ok(MOCK && CLI, "EDGEPOINTS_MOCK_URL and EDGEPOINTS_CLI must be set");
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  // Any script error, failed load or CSP refusal on the page fails the test.
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("dialog", (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    dialog.dismiss();
  });
  await page.goto(`${MOCK}/admin/`);
  await eventually(async () => assert.match(await page.locator("#connection").innerText(), /^live/), "the first refresh");
});

afterEach(() => {
  const seen = problems;
  problems = [];
  assert.deepEqual(seen, [], "the page reported problems");
});

after(async () => {
  await browser?.close();
  fs.rmSync(work, { recursive: true, force: true });
});

test("a device registered and consenting through the SDK appears with its consent", async () => {
  const phone = device("phone-consent");
  const registered = await phone("device", "register");
  assert.equal(registered.code, 0, registered.stderr);
  const deviceId = /registered (dev_[0-9a-f]+)/.exec(registered.stdout)[1];
  await eventually(async () => assert.match(await rowText("devices", deviceId), /none/), "the device row");
  assert.equal((await phone("device", "grant")).code, 0);
  await eventually(async () => assert.match(await rowText("devices", deviceId), /granted\s+rev 1/), "the granted consent");
  assert.equal((await phone("device", "revoke")).code, 0);
  await eventually(async () => assert.match(await rowText("devices", deviceId), /revoked\s+rev 2/), "the revoked consent");
});

test("a coupon flow shows the review's findings, the claim and the redemption, and merchant text stays text", async () => {
  const hostileTitle = '<img src=x onerror="window.pwned=1"> 10% off';
  const enrolment = await ok("coupons", "new-merchant", "--control-plane", MOCK, "--name", "Console Café", "--shop", "Main");
  const code = /enrolment code (\S+)/.exec(enrolment)[1];
  const till = device("till");
  assert.equal((await till("device", "register")).code, 0);
  assert.equal((await till("coupons", "enrol", code)).code, 0);
  const live = await till("coupons", "publish", "--title", hostileTitle, "--shop", "Main");
  const activityId = /activity ([0-9a-f]{32}) is Live/.exec(live.stdout)[1];
  const rejected = await till("coupons", "publish", "--title", "Call 13800138000 today", "--shop", "Main");
  const rejectedId = /activity ([0-9a-f]{32}) is Rejected/.exec(rejected.stdout)[1];

  const customer = device("customer");
  assert.equal((await customer("device", "register")).code, 0);
  const claimed = await customer("coupons", "claim", activityId);
  const serial = /claimed ([0-9a-f]+)/.exec(claimed.stdout)[1];
  const presented = await customer("coupons", "present", serial);
  const presentation = presented.stdout.split("\n")[0];
  assert.equal((await till("coupons", "redeem", "--order", "console-order-1", presentation)).code, 0);

  await eventually(async () => {
    assert.match(await rowText("activities", rejectedId), /rejected[\s\S]*title: contact “13800138000”/);
    assert.match(await rowText("activities", activityId), /live/);
    assert.match(await rowText("coupons", serial), /redeemed[\s\S]*console-order-1/);
  }, "the activity, its findings and the redemption");
  // The title is shown exactly as written, as text: no element was made
  // from it and its handler never ran.
  const titleCell = page.locator(`#activities tr[data-row="${activityId}"] td`).first();
  assert.equal(await titleCell.innerText(), hostileTitle);
  assert.equal(await page.locator("#activities img, #coupons img").count(), 0);
  assert.equal(await page.evaluate(() => window.pwned), undefined);
});

test("a member's session appears, and Expire ends it for the SDK", async () => {
  const phone = device("phone-member");
  assert.equal((await phone("device", "register")).code, 0);
  const login = await phone("member", "login", "--password", "edgepoints-demo", "bob@demo.edgepoints");
  assert.equal(login.code, 0, login.stderr);
  const row = page.locator('#sessions tr[data-row="bob@demo.edgepoints"]');
  await eventually(async () => assert.equal(await row.count(), 1), "the session row");
  await eventually(async () => assert.match(await rowText("members", "bob@demo.edgepoints"), /\s1$/), "the member's session count");

  await row.locator('button[data-action="expire"]').click();
  await eventually(async () => assert.equal(await row.count(), 0), "the session gone from the console");
  assert.match(await page.locator("#action-result").innerText(), /expire the session of bob@demo.edgepoints: done/);
  const sessions = await admin("/admin/sessions");
  assert.equal(sessions.filter((s) => s.member === "bob@demo.edgepoints").length, 0);
  // The SDK's next member call finds the session gone.
  const heartbeat = await phone("member", "heartbeat");
  assert.notEqual(heartbeat.code, 0, `a heartbeat on an expired session succeeded:\n${heartbeat.stdout}`);
});

test("a rental's vehicle, fee, bill and SMS appear", async () => {
  const phone = device("phone-rental");
  assert.equal((await phone("device", "register")).code, 0);
  assert.equal((await phone("member", "login", "--password", "edgepoints-demo", "alice@demo.edgepoints")).code, 0);
  const reserved = await phone("rental", "reserve", "ev-201");
  assert.equal(reserved.code, 0, reserved.stderr);
  const rentalId = /rental (r-[0-9a-f]+)/.exec(reserved.stdout)[1];
  await eventually(async () => assert.match(await rowText("vehicles", "ev-201"), /reserved/), "the reserved vehicle");
  assert.equal((await phone("rental", "start")).code, 0);
  await eventually(async () => assert.match(await rowText("rentals", rentalId), /running/), "the running rental");
  const ended = await phone("rental", "end");
  assert.equal(ended.code, 0, ended.stderr);
  await eventually(async () => {
    assert.match(await rowText("rentals", rentalId), /ended[\s\S]*EUR/);
    const queues = await page.locator("#queues").innerText({ timeout: 200 });
    assert.match(queues, new RegExp(`Your rental of ev-201 ended`));
    assert.match(queues, /billing group billing-service: \d+ messages, 0 pending/);
  }, "the ended rental, its bill and its SMS");
});

test("a fault clicked on makes the SDK's next call fail; cleared, the same call goes through", async () => {
  await page.selectOption("#fault-route", "POST /v1/devices");
  await page.selectOption("#fault-action", "fail");
  await page.fill("#fault-status", "503");
  await page.fill("#fault-count", "");
  await page.click("#fault-add");
  const faultRow = page.locator('#faults tr[data-row="POST /v1/devices fail"]');
  await eventually(async () => assert.match(await faultRow.innerText({ timeout: 200 }), /fail 503\s+every/), "the fault row");
  const firedBefore = await metric("faults fired");

  // Quick retries, so the SDK gives up within a second.
  const phone = device("phone-faulted", ["--retry-base-ms", "10", "--retry-max-ms", "40"]);
  const refused = await phone("device", "register");
  assert.notEqual(refused.code, 0, `registration went through a 503 fault:\n${refused.stdout}`);
  await eventually(async () => assert.ok((await metric("faults fired")) > firedBefore), "the fired fault counted");
  await eventually(
    async () => assert.match(await rowText("routes", "POST /v1/devices"), /503×\d+/),
    "the 503 answers by route",
  );

  await page.click("#faults-clear");
  await eventually(async () => assert.equal(await faultRow.count(), 0), "the fault cleared");
  const registered = await phone("device", "register");
  assert.equal(registered.code, 0, registered.stderr);
  const deviceId = /registered (dev_[0-9a-f]+)/.exec(registered.stdout)[1];
  await eventually(async () => assert.equal(await page.locator(`#devices tr[data-row="${deviceId}"]`).count(), 1), "the device row");
});

test("a refused action says why and changes nothing", async () => {
  const { now_ms: before } = await admin("/admin/clock");
  // The form cannot tell: the mock refuses moves over ten years.
  await page.fill("#clock-amount", "5000");
  await page.selectOption("#clock-unit", "86400000");
  await page.click("#clock-advance");
  await eventually(
    async () => assert.match(await page.locator("#action-result").innerText(), /refused: the clock moves at most ten years at a time/),
    "the refusal",
  );
  const { now_ms: after } = await admin("/admin/clock");
  assert.ok(after - before < 60000, `the clock moved by ${after - before} ms`);
  // Chromium logs every refused fetch; this one was the point.
  problems = problems.filter((p) => !p.includes("status of 422"));
});

test("moving the clock moves the console's clock", async () => {
  const read = async () => Date.parse(`${(await page.locator("#clock").innerText()).replace(" ", "T")}Z`);
  const before = await read();
  await page.fill("#clock-amount", "2");
  await page.selectOption("#clock-unit", "86400000");
  await page.click("#clock-advance");
  await eventually(async () => assert.ok((await read()) - before >= 2 * 86400000), "the clock two days on");
  const { now_ms } = await admin("/admin/clock");
  assert.ok(now_ms - before >= 2 * 86400000);
});

test("Withdraw takes an item off the manifest", async () => {
  const published = await admin("/admin/content?priority=3", {
    method: "POST",
    headers: { "content-type": "application/octet-stream" },
    body: `console withdraw test ${Date.now()}`,
  });
  const row = page.locator(`#content tr[data-row="${published.hash}"]`);
  await eventually(async () => assert.equal(await row.count(), 1), "the published item");
  await row.locator('button[data-action="withdraw"]').click();
  await eventually(async () => assert.equal(await row.count(), 0), "the item gone from the console");
  const items = await admin("/admin/content");
  assert.ok(!items.some((item) => item.hash === published.hash), "the item is still published");
  const origin = await fetch(`${MOCK}/origin/${published.hash}`);
  assert.equal(origin.status, 404);
});

test("the API figures count what apps do, not the console's own polling", async () => {
  // Two refreshes, so the figure read is one taken after the last test.
  await page.waitForTimeout(2500);
  const requests = await metric("API requests");
  await page.waitForTimeout(2500);
  assert.equal(await metric("API requests"), requests, "the console's polling was counted as API traffic");
  assert.equal(await metric("5xx answers") >= 1, true, "the 503 fault's answers are 5xx");
  assert.ok((await metric("signatures per batch")) >= 1, "the SDK's signed calls were checked");
});
