// The web pages end to end in headless Chromium: sign in, the wall and its live updates,
// acknowledging an incident, an override made on the schedule page, a viewer who cannot act,
// user text that stays text, the duty queue, ticket filters and bulk edits, and a post-mortem
// whose hostile Markdown renders harmless. Screenshots land in artifacts/web/.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { api, artifacts, launchBrowser, signIn, startServer } from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  server?.stop();
});

/** The on-call answer for the User-facing Captain On-Call. */
async function captain() {
  const oncall = await api(server, "GET", "/api/v1/oncall?team=User-facing");
  return oncall.schedules.find((s) => s.schedule_name === "Captain On-Call");
}

async function adminPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("dialog", (dialog) => {
    dialog.dismiss();
    throw new Error(`a dialog opened: ${dialog.message()}`);
  });
  await signIn(page, server, server.email, server.password);
  return page;
}

test("signing in shows the wall with each team's captain and first-mate", async () => {
  const page = await adminPage();
  await page.goto(`${server.url}/wall`);
  const team = page.locator('section[data-team="User-facing"]');
  const now = await captain();
  await assert.doesNotReject(team.locator('article[data-schedule="Captain On-Call"] .name').getByText(now.user.name).waitFor());
  await team.locator('article[data-schedule="First-mate"] .name').waitFor();
  assert.match(await team.locator('article[data-schedule="Captain On-Call"] .until').innerText(), /until Wed/);
  await page.screenshot({ path: join(artifacts, "wall.png"), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(artifacts, "wall-phone.png"), fullPage: true });
  await page.context().close();
});

test("the wall changes live when an override is added through the API", async () => {
  const page = await adminPage();
  await page.goto(`${server.url}/wall`);
  await page.evaluate(() => { window.notReloaded = true; });
  const before = await captain();
  const teams = await api(server, "GET", "/api/v1/teams");
  const userFacing = teams.find((t) => t.name === "User-facing");
  const cover = userFacing.members.find((id) => id !== before.user.id);
  const users = await api(server, "GET", "/api/v1/users");
  const coverName = users.find((u) => u.id === cover).name;
  const start = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, "Z");
  const end = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, "Z");
  await api(server, "POST", `/api/v1/schedules/${before.schedule_id}/overrides`, { start, end, user_id: cover });

  const name = page.locator('section[data-team="User-facing"] article[data-schedule="Captain On-Call"] .name');
  await name.getByText(coverName).waitFor({ timeout: 10000 });
  assert.equal(await page.evaluate(() => window.notReloaded), true, "updated without a reload");
  await page.context().close();
});

test("an incident is acknowledged from its page, and its script-laden title stays text", async () => {
  const page = await adminPage();
  await page.goto(`${server.url}/wall`);
  const summary = `<script>window.owned = 1</script><img src=x onerror="window.owned = 1"> Checkout is down`;
  await api(server, "POST", "/v2/enqueue", {
    routing_key: server.eventsKey,
    event_action: "trigger",
    payload: { summary, source: "web-1", severity: "critical" },
  });
  // The open wall shows it without a reload.
  await page.locator('section[data-team="User-facing"] .open-incidents .title').getByText("Checkout is down").waitFor({ timeout: 10000 });
  assert.equal(await page.evaluate(() => window.owned), undefined);

  await page.goto(`${server.url}/incidents`);
  await page.getByRole("link", { name: /^INC-/ }).first().click();
  await page.waitForURL(/\/incidents\/\d+$/);
  assert.equal(await page.locator("#incident-title").innerText(), summary);
  assert.equal(await page.locator("#status").innerText(), "triggered");
  await page.getByRole("button", { name: "Acknowledge" }).click();
  await page.waitForLoadState();
  assert.equal(await page.locator("#status").innerText(), "acknowledged");
  assert.equal(await page.getByRole("button", { name: "Acknowledge" }).count(), 0);
  assert.match(await page.locator(".timeline").innerText(), /acknowledged/i);
  assert.equal(await page.evaluate(() => window.owned), undefined, "no user text ran as script");
  await page.screenshot({ path: join(artifacts, "incident.png"), fullPage: true });
  const number = page.url().split("/").pop();
  const shown = await api(server, "GET", `/api/v1/incidents/${number}`);
  assert.equal(shown.status, "acknowledged");
  await page.context().close();
});

test("an override is created from the schedule page", async () => {
  const page = await adminPage();
  const now = await captain();
  await page.goto(`${server.url}/schedules/${now.schedule_id}`);
  const form = page.locator("#override-form");
  const day = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
  const next = new Date(Date.now() + 4 * 86_400_000).toISOString().slice(0, 10);
  await form.getByLabel(/From/).fill(`${day}T09:00`);
  await form.getByLabel(/Until/).fill(`${next}T09:00`);
  const choice = await form.getByLabel("Who covers").locator("option").nth(1);
  const who = (await choice.innerText()).trim();
  await form.getByLabel("Who covers").selectOption({ label: who });
  await form.getByLabel("Note").fill("Covering the conference");
  await form.getByRole("button", { name: "Create override" }).click();
  await page.waitForURL(new RegExp(`/schedules/${now.schedule_id}$`));
  assert.ok(await page.locator(".timeline-bar .seg.override").count() > 0, "the override shows on the timeline");
  const overrides = await api(server, "GET", `/api/v1/schedules/${now.schedule_id}/overrides?from=${day}&to=${next}T23:59:59Z`);
  assert.ok(overrides.some((o) => o.note === "Covering the conference"));
  await page.context().close();
});

test("a viewer sees no actions and the server refuses them anyway", async () => {
  const viewer = await api(server, "POST", "/api/v1/users", {
    name: "Vera Viewer", email: "vera@demo.watchbill.test", time_zone: "Europe/Berlin", role: "viewer",
  });
  await api(server, "PUT", `/api/v1/users/${viewer.id}/password`, { password: "vera's long password" });
  const incidents = await api(server, "GET", "/api/v1/incidents?status=open");
  const open = incidents[0] ?? (await (async () => {
    await api(server, "POST", "/v2/enqueue", { routing_key: server.eventsKey, event_action: "trigger", payload: { summary: "Viewer test", source: "x", severity: "error" } });
    return (await api(server, "GET", "/api/v1/incidents?status=open"))[0];
  })());
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, server, "vera@demo.watchbill.test", "vera's long password");
  await page.goto(`${server.url}/incidents/${open.id}`);
  await page.locator("#status").waitFor();
  for (const name of ["Acknowledge", "Resolve", "Escalate now", "Reassign", "Add note"]) {
    assert.equal(await page.getByRole("button", { name }).count(), 0, `${name} is hidden`);
  }
  const status = await page.evaluate(async (id) => {
    const csrf = document.querySelector('input[name="csrf"]').value;
    const response = await fetch(`/incidents/${id}/resolve`, { method: "POST", body: new URLSearchParams({ csrf }) });
    return response.status;
  }, open.id);
  assert.equal(status, 403);
  const after = await api(server, "GET", `/api/v1/incidents/${open.id}`);
  assert.notEqual(after.status, "resolved");
  await context.close();
});

test("the wall turns over at a handoff with no event to announce it", async () => {
  const page = await adminPage();
  await page.goto(`${server.url}/wall`);
  const before = await captain();
  const teams = await api(server, "GET", "/api/v1/teams");
  const members = teams.find((t) => t.name === "User-facing").members;
  const stand = members.find((id) => id !== before.user.id);
  const users = await api(server, "GET", "/api/v1/users");
  const standName = users.find((u) => u.id === stand).name;
  // A short cover ends four seconds from now: that end is a handoff nothing announces.
  const seconds = (ms) => new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d+Z$/, "Z");
  await api(server, "POST", `/api/v1/schedules/${before.schedule_id}/overrides`, {
    start: seconds(Date.now() - 60_000), end: seconds(Date.now() + 4_000), user_id: stand,
  });
  const name = page.locator('section[data-team="User-facing"] article[data-schedule="Captain On-Call"] .name');
  await name.getByText(standName).waitFor({ timeout: 10000 });
  await page.evaluate(() => { window.notReloaded = true; });
  await name.getByText(before.user.name).waitFor({ timeout: 15000 });
  assert.equal(await page.evaluate(() => window.notReloaded), true, "turned over without a reload");
  await page.context().close();
});

test("the duty queue shows this week's captain their tickets, most urgent first", async () => {
  const page = await adminPage();
  await page.getByRole("link", { name: "Duty" }).click();
  await page.waitForURL(/\/duty/);
  const now = await captain();
  assert.match(await page.locator("#captain").innerText(), new RegExp(now.user.name));
  const keys = await page.locator("table.tickets tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.key));
  assert.ok(keys.length >= 6, `${keys}`);
  assert.equal(keys[0], "UF-1", "Highest priority first");
  assert.equal(await page.locator('tr[data-key="UF-1"] strong.overdue').count(), 1, "UF-1 is overdue");
  await page.getByRole("link", { name: "Balance" }).click();
  await page.locator("#balance-chart").waitFor();
  await page.screenshot({ path: join(artifacts, "balance.png"), fullPage: true });
  await page.context().close();
});

test("a filter narrows the ticket list, and a bad one points at its mistake", async () => {
  const page = await adminPage();
  await page.goto(`${server.url}/tickets`);
  await page.getByLabel("Filter", { exact: true }).fill("label = product-maintenance-duty AND priority IN (Highest, High) ORDER BY due ASC");
  await page.getByRole("button", { name: "Search" }).click();
  await page.waitForLoadState();
  const keys = await page.locator("table.tickets tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.key));
  assert.deepEqual(keys, ["UF-1", "UF-2", "UF-3"]);
  await page.getByLabel("Filter", { exact: true }).fill("priority IN (High");
  await page.getByRole("button", { name: "Search" }).click();
  await page.locator("#filter-error").waitFor();
  assert.match(await page.locator("#filter-error").innerText(), /column \d+/);
  await page.context().close();
});

test("a bulk edit changes every ticket the filter selects", async () => {
  const page = await adminPage();
  const filter = "label = product-maintenance-duty AND priority IN (Highest, High)";
  await page.goto(`${server.url}/tickets?filter=${encodeURIComponent(filter)}`);
  await page.locator("#bulk summary").click();
  await page.locator("#bulk").getByLabel("Priority").selectOption("Low");
  await page.locator("#bulk").getByLabel("Add labels").fill("sprint-42");
  await page.getByRole("button", { name: "Apply to all" }).click();
  await page.waitForLoadState();
  assert.match(await page.locator(".notice").innerText(), /Changed 3 ticket/);
  for (const key of ["UF-1", "UF-2", "UF-3"]) {
    const ticket = await api(server, "GET", `/api/v1/tickets/${key}`);
    assert.equal(ticket.priority, "Low");
    assert.ok(ticket.labels.includes("sprint-42"));
  }
  await page.screenshot({ path: join(artifacts, "tickets.png"), fullPage: true });
  await page.context().close();
});

test("a post-mortem is written from its incident, previewed and saved harmless, and seen again", async () => {
  const page = await adminPage();
  const services = await api(server, "GET", "/api/v1/services");
  const course = services.find((s) => s.name === "Course platform");
  const first = await api(server, "POST", "/api/v1/incidents", { service_id: course.id, title: "Quiz uploads time out" });
  await api(server, "POST", `/api/v1/incidents/${first.number}/resolve`, {});

  await page.goto(`${server.url}/incidents/${first.id}`);
  await page.getByRole("button", { name: "Write a post-mortem" }).click();
  await page.waitForURL(/\/post-mortems\/\d+$/);
  assert.equal(await page.locator("#pm-title").innerText(), "Quiz uploads time out");
  assert.match(await page.locator("#pm-body").innerText(), /Timeline[\s\S]*triggered/);

  const hostile = [
    "## Summary",
    "",
    "<script>window.owned = 1</script>",
    "",
    "<img src=x onerror=\"window.owned = 1\">",
    "",
    "A [click me](javascript:window.owned=1) link and an inline <a href=\"javascript:window.owned=1\">raw link</a>.",
    "",
    "## How to tackle it next time",
    "",
    "Restart the **upload workers**.",
  ].join("\n");
  const editor = page.locator("#pm-editor");
  await editor.getByLabel("Markdown").fill(hostile);
  await editor.getByRole("button", { name: "Preview" }).click();
  await page.waitForLoadState();
  /** The rendered Markdown in `selector` holds no markup of the author's own. */
  async function harmless(selector) {
    const area = page.locator(selector);
    assert.equal(await area.locator("script, img, iframe, [onerror]").count(), 0, `${selector} has no live markup`);
    assert.match(await area.innerText(), /<script>window\.owned = 1<\/script>/, "raw HTML is shown as text");
    const hrefs = await area.locator("a").evaluateAll((links) => links.map((a) => a.getAttribute("href") ?? ""));
    assert.ok(hrefs.every((href) => !href.toLowerCase().startsWith("javascript:")), `no script links: ${hrefs}`);
    assert.equal(await area.locator("strong").innerText(), "upload workers");
    const link = area.getByRole("link", { name: "click me" });
    assert.equal(await link.getAttribute("href"), "#", "a script address becomes #");
    await link.click();
    assert.equal(await page.evaluate(() => window.owned), undefined, "nothing the author wrote ran");
  }
  await harmless("#pm-preview");
  assert.equal(await editor.getByLabel("Markdown").inputValue(), hostile, "the preview keeps the text being edited");
  await editor.getByRole("button", { name: "Save" }).click();
  await page.waitForLoadState();
  await harmless("#pm-body");
  const number = (await page.locator("h1 .num").innerText()).trim();
  const stored = await api(server, "GET", `/api/v1/post-mortems/${number}`);
  assert.equal(stored.body, hostile, "stored as written");
  await page.screenshot({ path: join(artifacts, "post-mortem.png"), fullPage: true });

  const second = await api(server, "POST", "/api/v1/incidents", { service_id: course.id, title: "Quiz uploads time out again" });
  await page.goto(`${server.url}/incidents/${second.id}`);
  const seen = page.locator("#seen-before");
  await seen.waitFor();
  assert.match(await seen.innerText(), new RegExp(`${number} “Quiz uploads time out” same service — how to tackle it: Restart the \\*\\*upload workers\\*\\*\\.`));
  await seen.getByRole("link", { name: number }).click();
  await page.waitForURL(/\/post-mortems\/\d+$/);

  await page.goto(`${server.url}/post-mortems?q=upload+workers`);
  assert.deepEqual(await page.locator("#library tbody tr td:first-child").allInnerTexts(), [number]);
  await page.context().close();
});
