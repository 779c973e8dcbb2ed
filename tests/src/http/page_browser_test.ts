/**
 * GET / in a real browser: Debian's Chromium, headless, JavaScript off, loads
 * the status page from the app served on 127.0.0.1 and the test reads the DOM
 * it built and a screenshot it took. The screenshot is kept in a temporary
 * directory outside the repository; its path is printed.
 */
import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Hono } from "hono";
import { createApp } from "../../../src/http/app.ts";
import { describeUnless, RUNTIME } from "../../_helpers.ts";
import { chromiumMissing, dumpDom, screenshot } from "./_chromium.ts";
import { FakeService, jobOf, NOW, statusOf } from "./_fakes.ts";
import { countColor, decodePng } from "./_png.ts";
import { serveFetch, type TestServer } from "./_serve_app.ts";

const HOSTILE = `<img src=x onerror="document.title='owned'">`;
const GREEN = "#1a7f37";
const RED = "#cf222e";
const WIDTH = 1280;
const HEIGHT = 900;

/** Ten jobs: eight succeed with 1,000+ rows (the tallest block), two fail once first. */
function busyHistory() {
  return Array.from({ length: 10 }, (_, i) =>
    jobOf(
      20 - i,
      i % 5 === 0
        ? [
          { outcome: "retry", error: { kind: "offline", message: "Failed to connect" } },
          { outcome: "succeeded", rows: 2000 },
        ]
        : [{ outcome: "succeeded", rows: 1500, sent: 10 }],
    ));
}

function services() {
  return [
    {
      name: "orders",
      service: new FakeService(
        statusOf({
          state: "syncing",
          queueDepth: 1,
          unsentChanges: 4,
          totals: {
            succeeded: 10,
            failed: 2,
            rowsReceived: 16_000,
            chunksSent: 12,
            bytesSent: 4_096,
            bytesReceived: 640_000,
          },
        }),
        busyHistory(),
      ),
    },
    {
      name: "sensors",
      service: new FakeService(
        statusOf({
          state: "backing-off",
          consecutiveErrors: 3,
          lastError: { kind: "http", message: "Service Unavailable", status: 503 },
        }),
        [
          jobOf(7, [{ outcome: "succeeded", rows: 3 }]),
          jobOf(8, [{ outcome: "dead", error: { kind: "http", message: "Service Unavailable" } }]),
        ].reverse(),
      ),
    },
    {
      name: HOSTILE,
      service: new FakeService(
        statusOf({
          state: "offline",
          consecutiveErrors: 1,
          lastError: { kind: "offline", message: HOSTILE },
        }),
        [jobOf(3, [{ outcome: "retry", error: { kind: "offline", message: HOSTILE } }])],
      ),
    },
  ];
}

/** The serialized `<section>` of database `index` in Chromium's DOM. */
function section(dom: string, index: number): string {
  const m = new RegExp(`<section class="db" id="db-${index}"[\\s\\S]*?</section>`).exec(dom);
  assert.ok(m, `Chromium's DOM has no section db-${index}:\n${dom.slice(0, 3000)}`);
  return m[0];
}

describeUnless(chromiumMissing(), "GET / in headless Chromium with JavaScript off", () => {
  let server: TestServer;

  before(async () => {
    const root = new Hono();
    // The probe: a script that, if it runs, marks the page.
    root.get("/probe", (c) =>
      c.html(
        `<!doctype html><html><body><p id="p">static</p>` +
          `<script>document.getElementById("p").textContent = "scripted"</script></body></html>`,
      ));
    const ops = createApp(services(), { now: () => NOW, refreshSeconds: 30, basePath: "/ops" });
    root.mount("/ops", ops.fetch, { replaceRequest: false });
    server = await serveFetch(root.fetch);
  });

  after(() => server.close());

  it("the harness really runs Chromium with JavaScript off (a probe page's script does not run)", async () => {
    const dom = await dumpDom(`${server.origin}/probe`);
    assert.match(dom, /<p id="p">static<\/p>/);
  });

  it("Chromium shows each database's name, state and its timeline entries", async () => {
    const dom = await dumpDom(`${server.origin}/ops`);
    assert.match(dom, /<meta http-equiv="refresh" content="30">/);
    const expected: [string, string, number][] = [
      ["orders", "syncing", 12],
      ["sensors", "backing-off", 2],
      ["&lt;img src=x onerror=\"document.title='owned'\"&gt;", "offline", 1],
    ];
    for (const [index, [name, state, runs]] of expected.entries()) {
      const s = section(dom, index);
      assert.ok(s.includes(`<span class="name">${name}</span>`), `name of db-${index}:\n${s}`);
      assert.ok(s.includes(`<span class="state ${state}">${state}</span>`), `state of db-${index}`);
      const blocks = [...s.matchAll(/<li class="run (ok|fail|other) [^"]*" title="([^"]+)">/g)];
      assert.equal(blocks.length, runs, `timeline of db-${index}`);
    }
    // Oldest first: jobs 11 to 20; jobs 15 and 20 failed once before they succeeded.
    const orders = [...section(dom, 0).matchAll(/<li class="run ([^"]*)" title="([^"]+)">/g)];
    const ok = "ok succeeded l4";
    const retry = "fail retry l0";
    assert.deepEqual(orders.map((m) => m[1]), [
      ok,
      ok,
      ok,
      ok,
      retry,
      ok,
      ok,
      ok,
      ok,
      ok,
      retry,
      ok,
    ]);
    assert.match(orders[0][2], / · succeeded · 1,500 rows received, 10 sent · job 11$/);
    assert.match(orders[11][2], / · succeeded · 2,000 rows received, 0 sent · job 20$/);
    assert.match(orders[10][2], / · failed, retried · .* · job 20 · offline: Failed to connect$/);
    assert.match(section(dom, 1), /title="[^"]+failed, given up[^"]+Service Unavailable">/);
  });

  it("Chromium shows a hostile name and message as text: no element is injected", async () => {
    const dom = await dumpDom(`${server.origin}/ops`);
    assert.doesNotMatch(dom, /<img|<script/i);
    assert.match(dom, /<title>sqlite-sync status<\/title>/);
    assert.match(
      section(dom, 2),
      /title="[^"]+ · offline: &lt;img src=x onerror=&quot;document\.title='owned'&quot;&gt;">/,
    );
    assert.ok(
      section(dom, 2).includes(
        `<code>offline: &lt;img src=x onerror="document.title='owned'"&gt;</code>`,
      ),
    );
  });

  it("a screenshot shows the timeline's blocks in their colors", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sqlite-sync-status-page-"));
    const file = join(dir, `status-page-${RUNTIME}.png`);
    await screenshot(`${server.origin}/ops`, file, WIDTH, HEIGHT);
    console.log(`status page screenshot (${RUNTIME}): ${file}`);
    const png = decodePng(new Uint8Array(readFileSync(file)));
    assert.deepEqual([png.width, png.height], [WIDTH, HEIGHT]);
    // orders: 10 succeeded blocks of 10×34 px; sensors: one of 10×12 px. Rounded top corners
    // take a few pixels; no other green on the page covers that much (no idle badge, and the
    // one "Healthy" is text).
    assert.ok(countColor(png, GREEN) >= 10 * 10 * 32, `green pixels: ${countColor(png, GREEN)}`);
    // Four failed blocks of 10×14 px (no failed badge: red is only in the timeline and legend).
    assert.ok(countColor(png, RED) >= 4 * 10 * 12, `red pixels: ${countColor(png, RED)}`);
  });
});
