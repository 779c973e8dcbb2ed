/**
 * GET / in a real browser over real services. Three SyncServices (the real extension, the
 * runtime's real executor pool, real queue files), each against a failure fixture that does
 * not speak CloudSync: a refused port, a server answering every request 401, and a listener
 * that accepts and never answers (3 s request time-out). The app is mounted in a hono app and
 * served on 127.0.0.1; Debian's Chromium, headless with JavaScript off, loads the page through
 * the DevTools protocol at 390 and 1280 px, the test reads the laid-out DOM (headline, cards,
 * timeline marks, overflow) and compares it with `/status` read around the same moment, and
 * saves full-page screenshots under `.cache/screenshots/` (their paths are printed).
 *
 * Nothing sleeps: the test waits on the services' events (each with a failure guard only).
 */
import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Hono } from "hono";
import { SyncDatabase } from "../../../src/database.ts";
import { createApp, type StatusBody } from "../../../src/http/app.ts";
import { PALETTE } from "../../../src/http/page.ts";
import { SyncService } from "../../../src/scheduler/service.ts";
import type { SyncServiceEvents } from "../../../src/scheduler/status.ts";
import type { SyncServiceOptions } from "../../../src/scheduler/service_options.ts";
import {
  describeUnless,
  refusedPort,
  ROOT,
  RUNTIME,
  tempDir,
  testExtensionPath,
} from "../../_helpers.ts";
import { errorServer, type SilentListener, silentListener } from "../_error_servers.ts";
import { BrowserPage, chromiumMissing, type Viewport } from "./_chromium.ts";
import { countColor, decodePng } from "./_png.ts";
import { serveFetch, type TestServer } from "./_serve_app.ts";

const API_KEY = "sqa_PAGEBROWSER_0123456789";
const UNAUTHORIZED = '{"errors":[{"status":"401","code":"unauthorized","title":"Unauthorized"}]}';
const SHOTS = join(ROOT, ".cache", "screenshots");
/** The failure guard of each wait (never a sleep: a wait ends on its event). */
const GUARD_MS = 90_000;

const VIEWPORTS: Record<string, Viewport> = {
  "390": { width: 390, height: 844, mobile: true },
  "1280": { width: 1280, height: 900 },
};

/** What the test reads of the laid-out page (through DevTools; the page runs no script). */
interface Layout {
  scrollWidth: number;
  clientWidth: number;
  overflowing: string[];
  headline: string;
  counts: Record<string, number>;
  title: string;
  cards: {
    name: string;
    state: string;
    text: string;
    nextRun: boolean;
    action: string | null;
    dataAttempts: number;
    marks: number;
    svgAttempts: number | null;
    right: number;
  }[];
}

const READ_LAYOUT = `(() => {
  const root = document.documentElement;
  const width = root.clientWidth;
  const overflowing = [...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > width + 0.5)
    .map((e) => e.tagName + "." + (e.getAttribute("class") ?? "") + " right=" +
      e.getBoundingClientRect().right)
    .slice(0, 10);
  const counts = {};
  for (const c of document.querySelectorAll(".summary .count")) {
    counts[c.dataset.class] = Number(c.dataset.count);
  }
  return {
    scrollWidth: root.scrollWidth,
    clientWidth: width,
    overflowing,
    headline: document.querySelector(".summary").innerText.replace(/\\s+/g, " ").trim(),
    counts,
    title: document.title,
    cards: [...document.querySelectorAll("section.db")].map((s) => ({
      name: s.querySelector("h2").innerText,
      state: s.dataset.state,
      text: s.innerText,
      nextRun: s.querySelector(".next-run") !== null,
      action: s.querySelector(".action")?.innerText ?? null,
      dataAttempts: Number(s.dataset.attempts),
      marks: s.querySelectorAll("svg.tl g.mark").length,
      svgAttempts: s.querySelector("svg.tl") ? Number(s.querySelector("svg.tl").dataset.attempts) : null,
      right: s.getBoundingClientRect().right,
    })),
  };
})()`;

/** Resolves with the first `type` event of `service` that passes `test`; rejects after the guard. */
function when<K extends keyof SyncServiceEvents>(
  service: SyncService,
  type: K,
  what: string,
  test: (event: SyncServiceEvents[K]) => boolean = () => true,
): Promise<SyncServiceEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`guard: no '${type}' event (${what}) within ${GUARD_MS} ms`));
    }, GUARD_MS);
    const off = service.on(type, (event) => {
      if (!test(event)) return;
      clearTimeout(timer);
      off();
      resolve(event);
    });
  });
}

describeUnless(
  chromiumMissing(),
  "GET / in headless Chromium (JavaScript off) over three failing real services",
  () => {
    const cleanups: (() => Promise<void> | void)[] = [];
    const services: { name: string; service: SyncService }[] = [];
    let server: TestServer;
    let page: BrowserPage;
    let silent: SilentListener;

    async function start(
      name: string,
      port: number,
      options: Partial<SyncServiceOptions>,
    ): Promise<SyncService> {
      const dir = tempDir("page-browser-");
      cleanups.push(() => dir.cleanup());
      const path = join(dir.path, `${name}.db`);
      const extensionPath = await testExtensionPath();
      const db = await SyncDatabase.open(path, { extensionPath });
      db.exec("CREATE TABLE notes (id TEXT PRIMARY KEY NOT NULL, body TEXT)");
      db.init("notes");
      db.run("INSERT INTO notes (id, body) VALUES (?, ?)", db.uuid(), "local");
      db.close();
      const service = await SyncService.start(path, {
        databaseId: `db_${name}`,
        address: `http://127.0.0.1:${port}`,
        apiKey: API_KEY,
        extensionPath,
        syncOnStart: false,
        changeDebounceMs: false,
        ...options,
      } as SyncServiceOptions);
      cleanups.push(() => service.stop({ graceMs: 0 }));
      services.push({ name, service });
      return service;
    }

    before(async () => {
      const refused = await refusedPort();
      const e401 = await errorServer(401, "Unauthorized", UNAUTHORIZED);
      cleanups.push(() => e401.stop());
      silent = await silentListener();
      cleanups.push(() => silent.close());
      // Three schedules, so the page shows each kind; none fires during the test.
      const offline = await start("refused", refused, {
        intervalMs: 10 * 60_000,
        polling: false,
        connectTimeoutS: 3,
      });
      const auth = await start("unauthorized", e401.port, {
        cron: "*/30 * * * *",
        timezone: "Europe/Rome",
        polling: false,
      });
      const hung = await start("never-answers", silent.port, {
        polling: { baseIntervalMs: 10 * 60_000, maxIntervalMs: 60 * 60_000 },
        connectTimeoutS: 3,
        requestTimeoutS: 3,
      });
      // Each waits for its first failed attempt: offline and the time-out back off and retry,
      // the 401 is permanent at once.
      const waits = [
        when(offline, "retry-scheduled", "refused port"),
        when(auth, "failed", "401", (e) => e.permanent !== null),
        when(hung, "retry-scheduled", "listener that never answers"),
      ];
      for (const s of [offline, auth, hung]) s.syncNow().catch(() => {});
      await Promise.all(waits);

      const root = new Hono();
      // The probe: a script that, if it runs, marks the page.
      root.get("/probe", (c) =>
        c.html(
          `<!doctype html><html><body><p id="p">static</p>` +
            `<script>document.getElementById("p").textContent = "scripted"</script></body></html>`,
        ));
      const ops = createApp(services, { refreshSeconds: 30, basePath: "/ops" });
      root.mount("/ops", ops.fetch, { replaceRequest: false });
      server = await serveFetch(root.fetch);
      cleanups.push(() => server.close());
      page = await BrowserPage.open();
      cleanups.push(() => page.close());
    });

    after(async () => {
      // A sync hung on the silent listener returns once its socket ends.
      silent?.destroySockets();
      for (const c of cleanups.splice(0).reverse()) await c();
    });

    async function status(): Promise<StatusBody> {
      const res = await fetch(`${server.origin}/ops/status`);
      assert.equal(res.status, 200);
      return await res.json();
    }

    it("the browser runs no page script (a probe page's script does not run)", async () => {
      await page.goto(`${server.origin}/probe`, VIEWPORTS["1280"]);
      assert.equal(
        await page.evaluate<string>(`document.getElementById("p").textContent`),
        "static",
      );
    });

    for (const [label, viewport] of Object.entries(VIEWPORTS)) {
      it(`at ${label} px: the headline counts match /status, each card tells the truth, one mark per attempt, nothing overflows; screenshot saved`, async () => {
        const before = await status();
        await page.goto(`${server.origin}/ops`, viewport);
        const layout = await page.evaluate<Layout>(READ_LAYOUT);
        const afterwards = await status();
        const detail = JSON.stringify(layout, null, 1).slice(0, 4000);

        // Headline: the counts of /status (the classes do not move here: two degraded, one failed).
        assert.deepEqual(before.counts, afterwards.counts, "the classes moved during the test");
        const expected = Object.fromEntries(
          Object.entries(afterwards.counts).filter(([, n]) => n > 0),
        );
        assert.deepEqual(layout.counts, expected, detail);
        assert.deepEqual(expected, { failed: 1, degraded: 2 });
        assert.equal(layout.headline, "1 failed · 2 degraded");
        assert.equal(layout.title, "sqlite-sync: 1 failed · 2 degraded");

        // Cards, most severe first, then by name.
        assert.deepEqual(
          layout.cards.map((c) => [c.state, c.name]),
          [["failed", "unauthorized"], ["degraded", "never-answers"], ["degraded", "refused"]],
        );
        const card = (name: string) => layout.cards.find((c) => c.name === name)!;
        const refused = card("refused");
        assert.doesNotMatch(refused.text, /\b(healthy|ok)\b/i, refused.text);
        assert.match(refused.text, /Degraded: .*no successful sync yet/);
        assert.match(refused.text, /Next run/);
        const unauthorized = card("unauthorized");
        assert.equal(unauthorized.nextRun, false, unauthorized.text);
        assert.doesNotMatch(unauthorized.text, /Next run/);
        assert.match(unauthorized.text, /Failed: retries stopped \(auth\)/);
        assert.match(unauthorized.action ?? "", /^To unblock: fix the API key or token, then POST/);
        assert.match(unauthorized.text, /auth \(HTTP 401\)/);
        assert.match(unauthorized.text, /Schedule\s+cron “\*\/30 \* \* \* \*” \(Europe\/Rome\)/);
        for (const c of layout.cards) {
          assert.doesNotMatch(c.text, /\bhealthy\b/i);
          assert.match(c.text, new RegExp(`Database\\s+db_${c.name}`));
        }

        // One mark per attempt: the page's marks are the attempts it read (data-attempts, same
        // snapshot), and those lie between what /status read just before and just after.
        for (const c of layout.cards) {
          const a = before.databases.find((d) => d.name === c.name)!.attempts.length;
          const b = afterwards.databases.find((d) => d.name === c.name)!.attempts.length;
          assert.ok(c.dataAttempts >= 1, `${c.name}: no attempt drawn`);
          assert.equal(c.marks, c.dataAttempts, `${c.name}: marks vs attempts`);
          assert.equal(c.svgAttempts, c.dataAttempts);
          assert.ok(a <= c.marks && c.marks <= b, `${c.name}: ${a} ≤ ${c.marks} ≤ ${b}`);
          if (a === b) assert.equal(c.marks, a);
        }
        // The 401 stopped retrying: its count is exact.
        assert.equal(
          unauthorized.marks,
          afterwards.databases.find((d) => d.name === "unauthorized")!.attempts.length,
        );

        // Nothing overflows horizontally.
        assert.equal(layout.clientWidth, viewport.width);
        assert.ok(
          layout.scrollWidth <= layout.clientWidth,
          `scrollWidth ${layout.scrollWidth} > ${layout.clientWidth}: ${layout.overflowing}`,
        );
        assert.deepEqual(layout.overflowing, []);
        for (const c of layout.cards) assert.ok(c.right <= viewport.width, `${c.name} overflows`);

        mkdirSync(SHOTS, { recursive: true });
        const file = join(SHOTS, `status-page-${label}.png`);
        await page.screenshot(file);
        console.log(`status page screenshot (${RUNTIME}, ${label} px): ${file}`);
        const png = decodePng(new Uint8Array(readFileSync(file)));
        assert.equal(png.width, viewport.width);
        assert.ok(png.height >= viewport.height / 2);
        // The page's colors are drawn (not only named in the DOM): each card's 6 px stripe in
        // its class's color, at least 100 px tall; the headline, icons and marks add more.
        const red = countColor(png, PALETTE.light.failed);
        const amber = countColor(png, PALETTE.light.degraded);
        assert.ok(red >= 6 * 100, `pixels of the failed color: ${red}`);
        assert.ok(amber >= 2 * 6 * 100, `pixels of the degraded color: ${amber}`);
      });
    }
  },
);
