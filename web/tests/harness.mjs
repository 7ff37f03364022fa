// Starts the real watchbill binary with the demo organisation on a fresh SQLite file, and a
// headless Chromium (Debian's) driven by Playwright.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const artifacts = process.env.WATCHBILL_ARTIFACTS ?? join(root, "artifacts", "web");
mkdirSync(artifacts, { recursive: true });

/** The running server: its URL, the demo admin's token and password, and its keys. */
export async function startServer() {
  const binary = process.env.WATCHBILL_BIN ?? join(root, "target", "debug", "watchbill");
  const dir = mkdtempSync(join(tmpdir(), "watchbill-web-"));
  const child = spawn(
    binary,
    ["serve", "--demo", "--listen", "127.0.0.1:0", "--smtp-listen", "127.0.0.1:0", "--database-url", `sqlite://${dir}/watchbill.db`],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: "warn" } },
  );
  let output = "";
  child.stderr.on("data", (chunk) => { output += chunk; });
  const banner = await new Promise((resolveBanner, reject) => {
    const timer = setTimeout(() => reject(new Error(`no banner in 30 s:\n${output}`)), 30000);
    child.stdout.on("data", (chunk) => {
      output += chunk;
      if (output.includes("Press Ctrl-C to stop.")) {
        clearTimeout(timer);
        resolveBanner(output);
      }
    });
    child.on("exit", (code) => reject(new Error(`watchbill exited with ${code}:\n${output}`)));
  });
  const find = (pattern) => {
    const match = banner.match(pattern);
    if (!match) throw new Error(`${pattern} not in the banner:\n${banner}`);
    return match[1];
  };
  return {
    url: find(/listening on (http:\/\/\S+)/),
    token: find(/demo admin token: (\S+)/),
    email: find(/ as (\S+) with password/),
    password: find(/with password (\S+)/),
    eventsKey: find(/Course platform events_v2 key: (\S+)/),
    stop() {
      child.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Calls the REST API as the demo admin; answers the parsed body, or throws on an error. */
export async function api(server, method, path, body) {
  const response = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Debian's Chromium, headless, with the flags this closed network needs. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Signs in on the page's sign-in form and waits for the app. */
export async function signIn(page, server, email, password) {
  await page.goto(`${server.url}/now`);
  await page.waitForURL(/\/login/);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/now$/);
}
