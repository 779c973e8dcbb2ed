/**
 * A to-do API on an edge server: hono routes over a local replica (table
 * `todos`, synced), a `SyncService` that sends every write in the background,
 * and the library's status app mounted under `/ops` (`/ops/healthz`,
 * `/ops/status`, `/ops/metrics`, and the status page at `/ops` for a browser).
 *
 *   deno run -A examples/edge_api.ts
 *   bun examples/edge_api.ts
 *
 * With `SQLITE_SYNC_DATABASE_ID` and `SQLITE_SYNC_API_KEY` set, the service
 * syncs with SQLite Cloud (the cloud database needs the same `todos` table,
 * see examples/cloud_sync.ts). Without them (no account) it runs against a
 * refused port on 127.0.0.1: the API works, and `/ops` shows what the service
 * would do (each sync fails `offline`, retries are scheduled, the unsent
 * changes pile up).
 *
 * Environment: `PORT` (default 8787; 0 picks a free port), `HOST` (default
 * 127.0.0.1), `TODOS_DB` (default `todos.db`), `OPS_TOKEN` (enables
 * `POST /ops/sync` with `Authorization: Bearer <token>`). The first line
 * printed is `listening on http://<host>:<port>`. SIGTERM or SIGINT stops the
 * service (a sync in flight gets its grace period) and exits 0.
 *
 * Routes: `GET /todos`, `GET /todos/:id`, `POST /todos` `{ "title": "…", "done"?: false }`,
 * `PATCH /todos/:id` `{ "title"?: "…", "done"?: true }`, `DELETE /todos/:id`.
 */
import { createServer } from "node:net";
import process from "node:process";
import { Hono } from "hono";
import type { Context } from "hono";
import { createApp, SyncDatabase, SyncService } from "../mod.ts";

const TITLE_MAX = 500;
const BODY_MAX = 16 * 1024;

// ---- settings -------------------------------------------------------------------------

const host = process.env.HOST || "127.0.0.1";
const port = Number(process.env.PORT || 8787);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error("PORT must be a port number from 0 to 65535 (0: any free port).");
  process.exit(2);
}
const databaseId = process.env.SQLITE_SYNC_DATABASE_ID;
const apiKey = process.env.SQLITE_SYNC_API_KEY;
if (Boolean(databaseId) !== Boolean(apiKey)) {
  console.error("Set both SQLITE_SYNC_DATABASE_ID and SQLITE_SYNC_API_KEY, or neither.");
  process.exit(2);
}

// ---- the local replica and its sync service ------------------------------------------

const db = await SyncDatabase.open(process.env.TODOS_DB || "todos.db");
db.exec(
  "CREATE TABLE IF NOT EXISTS todos (id TEXT PRIMARY KEY NOT NULL, title TEXT, " +
    "done INTEGER NOT NULL DEFAULT 0)",
);
db.init("todos");

// No account: a port on 127.0.0.1 where nothing listens, so the service shows what it would do.
const address = databaseId ? undefined : `http://127.0.0.1:${await refusedPort()}`;
// Writes made through `db` reach the service directly: a burst of them starts one sync 1 s
// after the last (a retry already waiting takes them along instead).
const service = await SyncService.start(db, {
  databaseId: databaseId ?? "no-account",
  apiKey: apiKey ?? "no-account",
  address,
  tables: ["todos"],
});

// ---- the API ------------------------------------------------------------------------

interface Todo {
  id: string;
  title: string;
  done: boolean;
}

class BadRequest extends Error {}

function toTodo(row: Record<string, unknown>): Todo {
  return { id: String(row.id), title: String(row.title ?? ""), done: Number(row.done) === 1 };
}

function findTodo(id: string): Todo | undefined {
  const row = db.get("SELECT id, title, done FROM todos WHERE id = ?", id);
  return row ? toTodo(row) : undefined;
}

/** The request body as a JSON object with only `allowed` fields (else a 400 with the reason). */
async function readObject(c: Context, allowed: string[]): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.length > BODY_MAX) throw new BadRequest(`the body is larger than ${BODY_MAX} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BadRequest(`the body is not valid JSON (${(err as Error).message})`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new BadRequest("the body must be a JSON object");
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new BadRequest(
        `unknown field ${JSON.stringify(key)} (allowed: ${allowed.join(", ")})`,
      );
    }
  }
  return value as Record<string, unknown>;
}

function title(value: unknown): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new BadRequest("'title' must be a non-empty string");
  }
  if (value.length > TITLE_MAX) throw new BadRequest(`'title' is longer than ${TITLE_MAX}`);
  return value.trim();
}

function done(value: unknown): boolean {
  if (typeof value !== "boolean") throw new BadRequest("'done' must be true or false");
  return value;
}

const notFound = (c: Context) => c.json({ error: `no todo with id ${c.req.param("id")}` }, 404);

const app = new Hono();
app.onError((err, c) => {
  if (err instanceof BadRequest) return c.json({ error: err.message }, 400);
  console.error("request failed:", err);
  return c.json({ error: "internal error" }, 500);
});
app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));

app.get("/", (c) => c.json({ todos: "/todos", status: "/ops/status", page: "/ops" }));

app.get("/todos", (c) => {
  return c.json(db.all("SELECT id, title, done FROM todos ORDER BY id").map(toTodo));
});

app.get("/todos/:id", (c) => {
  const todo = findTodo(c.req.param("id"));
  return todo ? c.json(todo) : notFound(c);
});

app.post("/todos", async (c) => {
  const body = await readObject(c, ["title", "done"]);
  const todo: Todo = {
    id: db.uuid(),
    title: title(body.title),
    done: body.done === undefined ? false : done(body.done),
  };
  db.run(
    "INSERT INTO todos (id, title, done) VALUES (?, ?, ?)",
    todo.id,
    todo.title,
    todo.done ? 1 : 0,
  );
  c.header("Location", `/todos/${todo.id}`);
  return c.json(todo, 201);
});

app.patch("/todos/:id", async (c) => {
  const body = await readObject(c, ["title", "done"]);
  if (body.title === undefined && body.done === undefined) {
    throw new BadRequest("give 'title', 'done' or both");
  }
  const changes = {
    ...(body.title === undefined ? {} : { title: title(body.title) }),
    ...(body.done === undefined ? {} : { done: done(body.done) }),
  };
  const id = c.req.param("id");
  const found = findTodo(id);
  if (!found) return notFound(c);
  const todo = { ...found, ...changes };
  db.run("UPDATE todos SET title = ?, done = ? WHERE id = ?", todo.title, todo.done ? 1 : 0, id);
  return c.json(todo);
});

app.delete("/todos/:id", (c) => {
  const { changes } = db.run("DELETE FROM todos WHERE id = ?", c.req.param("id"));
  return changes > 0 ? c.body(null, 204) : notFound(c);
});

// The status app: GET /ops/healthz, /ops/status, /ops/metrics, /ops (page), POST /ops/sync.
const ops = createApp([{ name: "todos", service }], {
  token: process.env.OPS_TOKEN,
  basePath: "/ops",
});
app.mount("/ops", ops.fetch, { replaceRequest: false });

// ---- serving, logging, stopping -----------------------------------------------------------

const server = serve(app.fetch, host, port);
console.log(`listening on http://${host.includes(":") ? `[${host}]` : host}:${server.port}`);
console.log(
  address
    ? `no account (SQLITE_SYNC_DATABASE_ID/SQLITE_SYNC_API_KEY unset): the service syncs ` +
      `against ${address}, where nothing listens, and /ops shows what it would do`
    : `syncing table todos with SQLite Cloud database ${databaseId}`,
);

service.on("started", (e) => console.log(`sync #${e.jobId} started (${e.reasons.join(", ")})`));
service.on("succeeded", (e) => {
  const { send, receive } = e.result;
  console.log(`sync #${e.jobId} ok: send ${send.status}, ${receive.rows} rows received`);
});
service.on("failed", (e) => console.log(`sync #${e.jobId} failed: ${e.error.kind}`));
service.on("retry-scheduled", (e) => {
  const s = Math.max(0, (e.at - Date.now()) / 1000).toFixed(1);
  console.log(`sync #${e.jobId}: attempt ${e.attempt} in ${s} s`);
});
service.on("dead-lettered", (e) => console.log(`sync #${e.jobId} given up: ${e.reason}`));

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(130); // a second signal: stop now
    stopping = true;
    console.log(`${signal}: stopping`);
    void (async () => {
      await server.close();
      await service.stop();
      db.close();
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
