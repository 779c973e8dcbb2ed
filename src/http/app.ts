/**
 * The status and control app: a fetch handler (a hono app inside) over one or
 * more sync services, served alone or mounted in any hono app on Deno, Bun or
 * Node (`createApp(…, { basePath: "/ops" })`, then
 * `parent.mount("/ops", app.fetch, { replaceRequest: false })`). It serves
 * nothing by itself: whoever serves or mounts it does.
 *
 * | route | answers |
 * |---|---|
 * | `GET /healthz` | liveness: 200 while every status can be read, 503 when one cannot; the body is the headline counts, then one line per database that is not `ok` |
 * | `GET /status` | 200 JSON {@linkcode StatusBody}: counts per health class, per database its health, `status()`, attempts of the last 24 h |
 * | `GET /metrics` | 200 Prometheus text format 0.0.4 (`sqlite_sync_health{state}` is the class) |
 * | `POST /sync` | 200 all synced, 502 one failed (JSON results); 401 bad or no bearer token; 403 no token configured; 404 unknown `?database=` |
 * | `GET /` | 200 the status page (HTML, no script, reloads itself) |
 *
 * Before any route (`_guards.ts`), the same under every server: a method a
 * route does not take gets 405 with `Allow` (`TRACE`, `OPTIONS`, `PUT`… on any
 * path; `POST` on a page; `GET` on `/sync`); a body over 64 KB 413, a chunked
 * body not received within 10 s 408; with `allowedHosts`, any other `Host` 421.
 * With `cacheMs`, a GET answer is reused for that long (`_response_cache.ts`).
 *
 * Every route judges health with the one model of `_health.ts` (classes `ok`,
 * `degraded`, `failed`, `stopped`). `/healthz` is liveness, for systemd or a
 * Kubernetes probe: it fails only when a status cannot be read, the one thing
 * a restart helps. A refused key or an outage is reported in its body, on
 * `/status`, the page and `sqlite_sync_health`, but never fails it (restarting
 * cannot fix them): alert on `/metrics` or `/status`.
 *
 * The GET routes are read-only and carry no secret (a status holds none by
 * design), so they need no token: they are meant for a local scraper, a
 * health probe and a person at a browser. Only `POST /sync` acts, and it needs
 * the bearer token; a browser cannot send that header cross-site without a
 * CORS preflight the app never grants, so a page elsewhere cannot trigger it.
 *
 * Without a configured token `POST /sync` answers 403, not 404: the route
 * exists and the answer says how to enable it, and no credential could succeed
 * (401 would invite retrying with one). A sync that fails answers 502 with
 * every database's typed result or error, so `curl -f` and monitors notice,
 * while the body tells which database failed and why (kind, message, status).
 * The request waits for the syncs, as `syncNow()` does (it joins a sync
 * already pending or running).
 *
 * Mounted at `/ops` that way, the page is at `/ops` (hono's strict routing)
 * and its links point below it. HEAD works on every GET route.
 *
 * @module
 */
import { Hono } from "hono";
import { compress } from "hono/compress";
import { SqliteSyncError } from "../../common/errors.ts";
import { redact } from "../../common/redact.ts";
import type { SyncResult } from "../../common/sync_result.ts";
import type { SyncAttempt, SyncServiceStatus } from "../scheduler/status.ts";
import { BearerCheck, readGuard } from "./_auth.ts";
import {
  errorText,
  type Health,
  HEALTH_CLASSES,
  type HealthClass,
  healthCounts,
  healthHeadline,
} from "./_health.ts";
import {
  BODY_TIMEOUT_MS,
  bodyGuard,
  hostGuard,
  MAX_BODY_BYTES,
  methodNotAllowed,
} from "./_guards.ts";
import { type AppOptions, appSettings, checkServices } from "./_options.ts";
import { responseCache } from "./_response_cache.ts";
import {
  type DatabaseSnapshot,
  type NamedService,
  snapshotAll,
  type SyncServiceLike,
} from "./_snapshot.ts";
import { METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
import { renderPage } from "./page.ts";

export type { AppOptions, Health, HealthClass, NamedService, SyncServiceLike };

/** What `GET /status` answers. */
export interface StatusBody {
  /** When it was read, ms since the epoch (the unit of every time in `status`). */
  generatedAt: number;
  /** How many databases are in each health class (every class, 0 included). */
  counts: Record<HealthClass, number>;
  /** The databases, in the order they were given. */
  databases: StatusDatabase[];
}

/** One database in `GET /status`. */
export interface StatusDatabase {
  /** Its name. */
  name: string;
  /** Its health class, why, and (for `failed`) what unblocks it. */
  health: Health;
  /** What `status()` returned, or `null` when it threw. */
  status: SyncServiceStatus | null;
  /** Its attempts of the last 24 hours (at most 500, the newest), oldest first. */
  attempts: SyncAttempt[];
  /** How many of them started in the last hour. */
  attemptsLastHour: number;
  /** How long the oldest pending or running job has waited, in ms; `null` when none is queued. */
  oldestJobAgeMs: number | null;
}

/** What `POST /sync` answers per database. */
export type SyncOutcome =
  | { database: string; ok: true; result: SyncResult }
  | { database: string; ok: false; error: { kind: string; message: string; status?: number } };

const TEXT = "text/plain; charset=utf-8";
const REALM = 'Bearer realm="sqlite-sync"';

const PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; " +
  "form-action 'none'; frame-ancestors 'none'";

/** The snapshots, most severe class first (`HEALTH_CLASSES`), in their order within a class. */
function bySeverity(snapshots: readonly DatabaseSnapshot[]): DatabaseSnapshot[] {
  const rank = (s: DatabaseSnapshot) => HEALTH_CLASSES.indexOf(s.health.state);
  return [...snapshots].sort((a, b) => rank(a) - rank(b));
}

function errorSummary(err: unknown): { kind: string; message: string; status?: number } {
  if (err instanceof SqliteSyncError) {
    // Its message was redacted when it was built.
    return {
      kind: err.kind,
      message: err.message,
      ...(err.status === undefined ? {} : { status: err.status }),
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { kind: "internal", message: redact(message) };
}

/**
 * The status app: a fetch handler (a hono app inside). Serve it alone
 * (`Deno.serve(app.fetch)`, `Bun.serve({ fetch: app.fetch })`, the daemon) or
 * mount it in any hono app: `parent.mount("/ops", app.fetch, { replaceRequest: false })`
 * with `basePath: "/ops"`.
 */
export interface StatusApp {
  /**
   * Answers one request.
   *
   * @param request The request.
   * @returns The response.
   */
  fetch(request: Request): Response | Promise<Response>;
  /**
   * Answers a request built from a path or URL, without a server (tests, health probes).
   *
   * @param input A path such as `/healthz`, a URL or a request.
   * @param init Method, headers and body.
   * @returns The response.
   */
  request(input: string | URL | Request, init?: RequestInit): Response | Promise<Response>;
}

/**
 * Creates the status and control app.
 *
 * @param services The databases: each a name (shown in labels, the page and `?database=`) and
 *   its service.
 * @param options The bearer token of `POST /sync`, the clock, the page's reload period and the
 *   mount path (`basePath`).
 * @returns The app: serve its `fetch`, or mount that in a hono app with
 *   `parent.mount(basePath, app.fetch, { replaceRequest: false })`.
 * @throws {TypeError} For a bad service list (not an array, a name missing or used twice, a
 *   service without `status`/`attempts`/`syncNow`) or a bad option.
 *
 * @example Usage
 * ```ts
 * import { Hono } from "hono";
 * import { createApp, SyncService } from "@sqliteai/sync";
 * const service = await SyncService.start("app.db", {
 *   databaseId: process.env.SQLITE_SYNC_DATABASE_ID!,
 *   apiKey: process.env.SQLITE_SYNC_API_KEY!,
 * });
 * const ops = createApp([{ name: "app", service }], {
 *   token: process.env.OPS_TOKEN, // enables POST /ops/sync; without it, 403
 *   basePath: "/ops",
 * });
 * const app = new Hono();
 * app.mount("/ops", ops.fetch, { replaceRequest: false }); // /ops/healthz, /ops/status…
 * Deno.serve({ hostname: "127.0.0.1", port: 8787 }, app.fetch); // or, without basePath, ops.fetch
 * ```
 */
export function createApp(
  services: readonly NamedService[],
  options?: AppOptions,
): StatusApp {
  const list = checkServices(services);
  const settings = appSettings(options);
  const byName = new Map(list.map((entry) => [entry.name, entry]));
  const auth = settings.token === undefined ? undefined : new BearerCheck(settings.token);

  const app = settings.basePath ? new Hono().basePath(settings.basePath) : new Hono();
  // Set before the route runs, so every response built with `c.*` carries them. Setting them
  // after (or letting compress() add Vary after) makes hono rebuild the finished Response from
  // its body as a stream: per request that multiplied the heap of a daemon under load (Deno
  // 75 MB more for /healthz alone; bench/soak_bench.ts).
  app.use(async (c, next) => {
    c.header("Cache-Control", "no-store");
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Vary", "Accept-Encoding");
    await next();
  });
  if (settings.allowedHosts !== undefined) app.use(hostGuard(settings.allowedHosts));
  app.use(bodyGuard(MAX_BODY_BYTES, BODY_TIMEOUT_MS));
  if (settings.readsNeedToken) app.use(readGuard(auth!, `${settings.basePath}/healthz`));
  if (settings.cacheMs !== undefined) app.use(responseCache(settings.cacheMs, settings.now));
  // The page and /status grow with databases × attempts (150 KB and 78 KB per database with 500
  // attempts): gzip takes them to a fraction for a client that accepts it (bench/status_app_bench).
  app.use(compress({ threshold: 4096 }));
  app.onError((err, c) => c.body(`internal error (${err.name})\n`, 500, { "Content-Type": TEXT }));

  app.get("/healthz", (c) => {
    const snapshots = snapshotAll(list, settings.now(), false);
    const lines = [healthHeadline(healthCounts(snapshots.map((s) => s.health)))];
    for (const s of bySeverity(snapshots)) {
      if (s.health.state === "ok") continue;
      const error = s.status?.lastError ? `; last error ${errorText(s.status.lastError)}` : "";
      lines.push(`${JSON.stringify(s.name)}: ${s.health.state}: ${s.health.reason}${error}`);
    }
    // Liveness: only a status that cannot be read is something a restart helps.
    const live = snapshots.every((s) => s.status !== null);
    // An explicit type: Bun leaves a bare string Response without one.
    return c.body(`${lines.join("\n")}\n`, live ? 200 : 503, { "Content-Type": TEXT });
  });

  app.get("/status", (c) => {
    const now = settings.now();
    const snapshots = snapshotAll(list, now, true);
    const body: StatusBody = {
      generatedAt: now,
      counts: healthCounts(snapshots.map((s) => s.health)),
      databases: snapshots.map((s) => ({
        name: s.name,
        health: s.health,
        status: s.status,
        attempts: s.attempts,
        attemptsLastHour: s.attemptsLastHour,
        oldestJobAgeMs: s.status === null || s.status.oldestJobAt === null
          ? null
          : Math.max(0, now - s.status.oldestJobAt),
      })),
    };
    return c.json(body);
  });

  app.get("/metrics", (c) => {
    const now = settings.now();
    const text = renderMetrics(snapshotAll(list, now, false), now);
    return c.body(text, 200, { "Content-Type": METRICS_CONTENT_TYPE });
  });

  app.get("/", (c) => {
    const now = settings.now();
    const path = c.req.path;
    const html = renderPage(snapshotAll(list, now, true), {
      now,
      refreshSeconds: settings.refreshSeconds,
      base: path.endsWith("/") ? path : `${path}/`,
    });
    c.header("Content-Security-Policy", PAGE_CSP);
    c.header("Referrer-Policy", "no-referrer");
    return c.html(html);
  });

  app.post("/sync", async (c) => {
    if (auth === undefined) {
      return c.json({
        error: "POST /sync is disabled: no token is configured. Configure one to enable it.",
      }, 403);
    }
    const verdict = await auth.check(c.req.header("Authorization"));
    if (verdict !== "ok") {
      c.header(
        "WWW-Authenticate",
        verdict === "missing" ? REALM : `${REALM}, error="invalid_token"`,
      );
      const error = verdict === "missing"
        ? "POST /sync needs 'Authorization: Bearer <token>'."
        : "The bearer token is not the configured one.";
      return c.json({ error }, 401);
    }
    const wanted = c.req.queries("database");
    const unknown = (wanted ?? []).filter((name) => !byName.has(name));
    if (unknown.length > 0) {
      return c.json({
        error: `No database is named ${unknown.map((n) => JSON.stringify(n)).join(", ")}.`,
        databases: list.map((entry) => entry.name),
      }, 404);
    }
    const targets = wanted === undefined
      ? list
      : [...new Set(wanted)].map((name) => byName.get(name)!);
    const results = await Promise.all(targets.map(async ({ name, service }) => {
      try {
        return { database: name, ok: true, result: await service.syncNow() } as SyncOutcome;
      } catch (err) {
        return { database: name, ok: false, error: errorSummary(err) } as SyncOutcome;
      }
    }));
    return c.json({ results }, results.every((r) => r.ok) ? 200 : 502);
  });

  // Every other method: 405 with the route's methods, or with the app's on a path that is no
  // route (CONNECT, TRACE…); GET, HEAD and POST there are a plain 404.
  for (const path of ["/healthz", "/status", "/metrics", "/"]) {
    app.all(path, methodNotAllowed("GET, HEAD"));
  }
  app.all("/sync", methodNotAllowed("POST"));
  const anyRoute = methodNotAllowed("GET, HEAD, POST");
  app.all(
    "*",
    (c) => (["GET", "HEAD", "POST"].includes(c.req.method) ? c.notFound() : anyRoute(c)),
  );

  return app;
}
