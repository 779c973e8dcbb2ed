/**
 * A multi-tenant notes API on an edge server: one local replica (a SQLite file
 * in `DATA_DIR`) per tenant, each with its own `SyncService`, created on the
 * tenant's first request; the status app under `/ops` shows every tenant.
 *
 *   deno run -A examples/multi_tenant.ts
 *   bun examples/multi_tenant.ts
 *
 * Routes: `POST /t/:tenant/notes` `{ "text": "…" }`, `GET /t/:tenant/notes` (a
 * tenant is 1 to 40 of `a-z 0-9 -`), and `/ops/status`, `/ops/healthz`,
 * `/ops/metrics`, `/ops` (the status page), each listing every tenant.
 *
 * Without an account every service syncs against a refused port on 127.0.0.1:
 * the API works and `/ops` shows what each service would do. With one, set
 * `SQLITE_SYNC_API_KEY` and `SQLITE_SYNC_DATABASE_ID` as a template holding
 * `{tenant}`: each tenant needs its own managed database (a shared one would
 * hand every replica every tenant's notes). A real deployment would look the
 * id up in its tenant registry instead (`databaseIdFor()` below).
 *
 * Environment: `PORT` (default 8787; 0 picks a free port), `HOST` (default
 * 127.0.0.1), `DATA_DIR` (default a temp dir, removed at exit), `MAX_TENANTS`
 * (default 100: each tenant holds files and a service), `OPS_TOKEN` (enables
 * `POST /ops/sync`). The first line printed is `listening on http://<host>:<port>`.
 * SIGTERM or SIGINT stops every service, closes every replica and exits 0.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Hono } from "hono";
import type { Context } from "hono";
import { createApp, resolveExtension, SyncDatabase, SyncService } from "../mod.ts";
import type { StatusApp } from "../mod.ts";

const TENANT = /^[a-z0-9-]{1,40}$/;
const TEXT_MAX = 2000;
const BODY_MAX = 16 * 1024;
const SCHEMA = "CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY NOT NULL, " +
  "text TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL DEFAULT 0)";

// ---- settings -------------------------------------------------------------------------

function usage(message: string): never {
  console.error(message);
  process.exit(2);
}
const host = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT || 8787);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  usage("PORT must be a port number from 0 to 65535 (0: any free port).");
}
const maxTenants = Number(process.env.MAX_TENANTS || 100);
if (!Number.isInteger(maxTenants) || maxTenants < 1) usage("MAX_TENANTS must be an integer ≥ 1.");
const idTemplate = process.env.SQLITE_SYNC_DATABASE_ID;
const apiKey = process.env.SQLITE_SYNC_API_KEY;
if (Boolean(idTemplate) !== Boolean(apiKey)) {
  usage("Set both SQLITE_SYNC_DATABASE_ID and SQLITE_SYNC_API_KEY, or neither.");
}
if (idTemplate && !idTemplate.includes("{tenant}")) {
  usage("SQLITE_SYNC_DATABASE_ID must hold {tenant}: each tenant syncs its own database.");
}
const ownDir = !process.env.DATA_DIR;
const dataDir = process.env.DATA_DIR || mkdtempSync(join(tmpdir(), "sqlite-sync-tenants-"));
mkdirSync(dataDir, { recursive: true });

// Resolved (downloaded and verified, or found in the cache) once before serving: a missing
// extension fails here, and concurrent first requests do not each resolve it.
const extension = await resolveExtension();
// No account: a port on 127.0.0.1 where nothing listens, so each service shows what it would do.
const address = idTemplate ? undefined : `http://127.0.0.1:${await refusedPort()}`;

/** The tenant's managed database: a template here, a lookup in a real deployment. */
function databaseIdFor(tenant: string): string {
  return idTemplate ? idTemplate.replaceAll("{tenant}", tenant) : "no-account";
}

// ---- tenants: a replica and its service each, created once --------------------------

type Tenant = { name: string; db: SyncDatabase; service: SyncService };

class HttpError extends Error {
  constructor(readonly status: 400 | 503, message: string) {
    super(message);
  }
}

// A promise per tenant, stored before the first await: a second request for a tenant in the
// making waits for the same replica instead of opening the file a second time.
const tenants = new Map<string, Promise<Tenant>>();
const ready: Tenant[] = [];
let stopping = false;

function tenant(name: string): Promise<Tenant> {
  let pending = tenants.get(name);
  if (pending) return pending;
  if (stopping) throw new HttpError(503, "the server is stopping");
  if (tenants.size >= maxTenants) throw new HttpError(503, `at most ${maxTenants} tenants`);
  pending = openTenant(name);
  tenants.set(name, pending);
  pending.catch(() => tenants.delete(name)); // a failed start is retried by the next request
  return pending;
}

async function openTenant(name: string): Promise<Tenant> {
  const path = join(dataDir, `${name}.db`); // safe: the name matched TENANT
  const db = await SyncDatabase.open(path, { extensionPath: extension.path });
  try {
    db.exec(SCHEMA);
    db.init("notes");
    // Given the SyncDatabase, the service hears its writes: a POST starts a send 1 s later.
    // Offline, nothing polls (a refused port has nothing to receive) and a failed send retries
    // with the default backoff (random waits up to 1 s, doubling to 5 min; 10 attempts): no spin.
    const service = await SyncService.start(db, {
      databaseId: databaseIdFor(name),
      apiKey: apiKey ?? "no-account",
      address,
      ...(address ? { polling: false, syncOnStart: false } : { cron: "*/5 * * * *" }),
    });
    // Offline failures are expected here and retried: only a job given up is logged.
    service.on("dead-lettered", (e) => console.log(`tenant ${name}: sync given up: ${e.reason}`));
    const t = { name, db, service };
    ready.push(t);
    ops = statusApp();
    console.log(`tenant ${name}: new replica ${path}`);
    return t;
  } catch (err) {
    db.close();
    throw err;
  }
}

// createApp copies its list, so a tenant added later needs a new app: it is rebuilt on each
// new tenant (cheap, rare) and requests go to the current one, as the daemon does on reload.
// A rebuild restarts the app's "no success since start" clock for tenants that never synced.
let ops: StatusApp = statusApp();
function statusApp(): StatusApp {
  const list = [...ready].sort((a, b) => a.name < b.name ? -1 : 1);
  return createApp(list.map(({ name, service }) => ({ name, service })), {
    token: process.env.OPS_TOKEN,
    basePath: "/ops",
  });
}

// ---- the API ------------------------------------------------------------------------

function tenantName(c: Context): string {
  const name = c.req.param("tenant") ?? "";
  if (!TENANT.test(name)) throw new HttpError(400, "the tenant must be 1 to 40 of a-z 0-9 -");
  return name;
}

/** The note text of the body `{ "text": "…" }`, or a 400 naming the problem. */
async function noteText(c: Context): Promise<string> {
  const body = await c.req.text();
  if (body.length > BODY_MAX) throw new HttpError(400, `the body is larger than ${BODY_MAX} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw new HttpError(400, `the body is not valid JSON (${(err as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "the body must be a JSON object");
  }
  const unknown = Object.keys(value).filter((key) => key !== "text");
  if (unknown.length > 0) {
    throw new HttpError(400, `unknown field ${JSON.stringify(unknown[0])} (allowed: text)`);
  }
  const { text } = value as { text?: unknown };
  if (typeof text !== "string" || text.trim() === "") {
    throw new HttpError(400, "'text' must be a non-empty string");
  }
  if (text.length > TEXT_MAX) throw new HttpError(400, `'text' is longer than ${TEXT_MAX}`);
  return text.trim();
}

const app = new Hono();
app.onError((err, c) => {
  if (err instanceof HttpError) return c.json({ error: err.message }, err.status);
  console.error("request failed:", err);
  return c.json({ error: "internal error" }, 500);
});
app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));

app.get("/t/:tenant/notes", async (c) => {
  // A first GET creates the replica too: with an account its first sync brings the notes in.
  const { db } = await tenant(tenantName(c));
  return c.json(db.all("SELECT id, text, created_at AS createdAt FROM notes ORDER BY 3, 1"));
});

app.post("/t/:tenant/notes", async (c) => {
  const name = tenantName(c);
  const text = await noteText(c); // checked first: a bad request creates no tenant
  const { db } = await tenant(name);
  const note = { id: db.uuid(), text, createdAt: Date.now() };
  db.run("INSERT INTO notes VALUES (?, ?, ?)", note.id, note.text, note.createdAt);
  return c.json(note, 201);
});

// The status app: GET /ops/healthz, /ops/status, /ops/metrics, /ops (page), POST /ops/sync.
app.mount("/ops", (request) => ops.fetch(request), { replaceRequest: false });

// ---- serving, stopping --------------------------------------------------------------------

const server = serve(app.fetch, host, port);
console.log(`listening on http://${host.includes(":") ? `[${host}]` : host}:${server.port}`);
console.log(
  `replicas in ${dataDir}; ` +
    (address ? `no account: services sync against ${address}, where nothing listens` : "syncing"),
);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(130); // a second signal: stop now
    stopping = true;
    console.log(`${signal}: stopping ${tenants.size} tenant(s)`);
    void (async () => {
      await server.close();
      // Tenants still being created finish first, so none is left running.
      const all = await Promise.allSettled(tenants.values());
      const started = all.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
      await Promise.all(started.map((t) => t.service.stop()));
      for (const t of started) t.db.close();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    })().catch((err) => {
      console.error("stopping failed:", err);
      process.exit(1);
    });
  });
}

/** Serves `fetch` with the runtime's own server: Deno.serve or Bun.serve. */
function serve(
  fetch: (request: Request) => Response | Promise<Response>,
  hostname: string,
  port: number,
): { port: number; close(): Promise<void> } {
  if (typeof Deno !== "undefined") {
    const server = Deno.serve({ hostname, port, onListen: () => {} }, fetch);
    return { port: server.addr.port, close: () => server.shutdown() };
  }
  // deno-lint-ignore no-explicit-any
  const bun = (globalThis as any).Bun;
  if (bun) {
    const server = bun.serve({ hostname, port, fetch });
    return { port: server.port, close: () => server.stop(true) };
  }
  throw new Error("Run this example with Deno or Bun.");
}

/** A port on 127.0.0.1 where nothing listens (bound once, then released). */
function refusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
