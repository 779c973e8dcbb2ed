/**
 * The arguments of `createApp()` and their validation: every field is checked
 * before the app is built, and no message echoes the token.
 *
 * @module
 */
import { hostName } from "../../common/hosts.ts";
import type { NamedService } from "./_snapshot.ts";

/** Options of `createApp()`. */
export interface AppOptions {
  /**
   * The bearer token `POST /sync` requires. Without one, `POST /sync` is
   * disabled (403). Compared in constant time; never logged or echoed.
   * @default undefined (POST /sync disabled)
   */
  token?: string;
  /**
   * The clock, in ms since the epoch (tests pass a fixed one).
   * @default Date.now
   */
  now?: () => number;
  /**
   * Seconds between reloads of the status page.
   * @default 10
   */
  refreshSeconds?: number;
  /**
   * The path the app is mounted at in another app (e.g. `/ops`): its routes
   * answer under it and the page links to it. Mount with
   * `parent.mount("/ops", app.fetch, { replaceRequest: false })`.
   * @default "" (served at the root)
   */
  basePath?: string;
  /**
   * The host names the app answers to (`Host` without its port: `localhost`, `127.0.0.1`,
   * `[::1]`…); any other `Host` gets 421 Misdirected Request. Give it when serving on a
   * loopback address, so that a site whose name a DNS rebinding points at 127.0.0.1 cannot
   * read the app from a browser (the daemon does). Without it every `Host` is answered.
   * @default undefined (no check)
   */
  allowedHosts?: readonly string[];
  /**
   * Reuse each GET answer (200 only) for this many ms, by path and `Accept-Encoding` (a sync
   * included: an answer is at most this old). For a server that may be hit far more often than
   * its data changes (the daemon uses 1000): the page and `/status` render up to 150 KB per
   * database each time.
   * @default undefined (every request is answered afresh)
   */
  cacheMs?: number;
  /**
   * Whether reading needs the token too: `GET /status`, `/metrics` and the page then answer 401
   * without `Authorization: Bearer <token>` or HTTP Basic with the token as the password (what a
   * browser prompts for; any user name). `/healthz` stays open for liveness probes, and
   * `POST /sync` takes the bearer form only. Requires `token`. The daemon sets it on a bind
   * that is not loopback, unless its config says `"public": true`.
   * @default false
   */
  readsNeedToken?: boolean;
}

/** The options with their defaults. */
export interface AppSettings {
  token: string | undefined;
  now: () => number;
  refreshSeconds: number;
  basePath: string;
  allowedHosts: readonly string[] | undefined;
  cacheMs: number | undefined;
  readsNeedToken: boolean;
}

function fail(message: string): never {
  throw new TypeError(`Cannot create the status app as ${message}`);
}

/**
 * Validates the services.
 *
 * @param services What the caller passed.
 * @returns A copy of the list.
 * @throws {TypeError} For a list that is not an array, an entry without a name or a service, a
 *   name used twice.
 */
export function checkServices(services: unknown): NamedService[] {
  if (!Array.isArray(services)) {
    fail("'services' must be an array of { name, service }");
  }
  const seen = new Set<string>();
  return services.map((entry: unknown, i: number) => {
    const { name, service } = (entry ?? {}) as { name?: unknown; service?: unknown };
    if (typeof name !== "string" || name.length === 0 || name.length > 200) {
      fail(`'services[${i}].name' must be a string of 1 to 200 characters`);
    }
    if (seen.has(name)) {
      fail(`'services[${i}].name' must be unique: ${JSON.stringify(name)} is used twice`);
    }
    seen.add(name);
    const s = service as Record<string, unknown> | null | undefined;
    for (const method of ["status", "attempts", "syncNow"]) {
      if (typeof s?.[method] !== "function") {
        fail(`'services[${i}].service' must have the ${method}() method of a SyncService`);
      }
    }
    return { name, service: service as NamedService["service"] };
  });
}

/**
 * Validates the options and applies the defaults.
 *
 * @param options What the caller passed.
 * @returns The settings.
 * @throws {TypeError} For a field of the wrong type or out of range.
 */
export function appSettings(options: AppOptions | undefined): AppSettings {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    fail("'options' must be an object");
  }
  const {
    token,
    now = Date.now,
    refreshSeconds = 10,
    basePath = "",
    allowedHosts,
    cacheMs,
    readsNeedToken = false,
  } = options ?? {};
  if (typeof basePath !== "string" || !/^(\/[A-Za-z0-9._~-]+)*$/.test(basePath)) {
    fail(
      `'basePath' must be "" or a path like "/ops" (segments of letters, digits, . _ ~ -): ` +
        `current value is ${JSON.stringify(basePath)}`,
    );
  }
  if (token !== undefined && (typeof token !== "string" || !/^[^\s]+$/.test(token))) {
    // The value is never echoed: it may be a real token with a stray newline.
    fail("'token' must be a non-empty string without whitespace (trim the token file)");
  }
  if (typeof now !== "function") fail("'now' must be a function returning ms since the epoch");
  if (!Number.isInteger(refreshSeconds) || refreshSeconds < 1 || refreshSeconds > 3600) {
    fail(`'refreshSeconds' must be an integer from 1 to 3600: current value is ${refreshSeconds}`);
  }
  if (
    allowedHosts !== undefined &&
    (!Array.isArray(allowedHosts) || allowedHosts.length === 0 ||
      !allowedHosts.every((h) => typeof h === "string" && hostName(h) !== undefined))
  ) {
    fail(
      `'allowedHosts' must be a non-empty list of host names such as "localhost" or ` +
        `"127.0.0.1": current value is ${JSON.stringify(allowedHosts)}`,
    );
  }
  if (cacheMs !== undefined && (!Number.isInteger(cacheMs) || cacheMs < 1 || cacheMs > 60_000)) {
    fail(`'cacheMs' must be an integer from 1 to 60000: current value is ${cacheMs}`);
  }
  if (typeof readsNeedToken !== "boolean") {
    fail(`'readsNeedToken' must be true or false: current value is ${typeof readsNeedToken}`);
  }
  if (readsNeedToken && token === undefined) {
    fail("'readsNeedToken' needs 'token': without one nothing could read the app");
  }
  return {
    token,
    now,
    refreshSeconds,
    basePath,
    allowedHosts: allowedHosts === undefined ? undefined : [...allowedHosts],
    cacheMs,
    readsNeedToken,
  };
}
