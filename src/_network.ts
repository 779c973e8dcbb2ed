/**
 * The implementation of {@linkcode CloudSyncNetwork}: argument checks, the
 * `cloudsync_network_*` calls, credential bookkeeping for redaction, and the
 * follow-up `/status` request that explains a failed sync. Created by
 * {@linkcode SyncDatabase} only; users see the interface.
 *
 * @module
 */
import type { SqlValue } from "../ffi/drivers/driver.ts";
import { SqliteSyncError } from "../common/errors.ts";
import { rememberSecret } from "../common/redact.ts";
import { assertAddress, assertDatabaseId, assertSecret } from "./_network_options.ts";
import type { ReceiveResult, SendResult, SyncResult } from "../common/sync_result.ts";
import type { CloudSyncNetwork, NetworkInitOptions, ServerStatus, SyncOptions } from "./network.ts";
import { parseReceiveResult, parseSendResult, parseSyncResult } from "./results.ts";
import { describeValue } from "./schema.ts";
import { sendPhaseNote } from "./classify.ts";

/** What the network object needs from its database. */
export interface NetworkHost {
  /** Runs `sql` (one `SELECT fn(...) AS v`) and returns `v`, classifying errors. */
  call(
    sql: string,
    params: SqlValue[],
    operation: string,
    secrets: readonly string[],
  ): SqlValue | undefined;
  /** Throws when the database is closed. */
  assertOpen(): void;
  /** Called after logout rebuilt the synced tables. */
  afterLogout(): void;
  /** Tables that have block-level LWW columns. */
  blockTables(): readonly string[];
}

/** Credentials remembered for redaction: the current one and a few before it. */
const MAX_SECRETS = 8;

/**
 * The network functions of one database (see {@linkcode CloudSyncNetwork} for
 * what each does). Built by {@linkcode SyncDatabase} with its call hooks.
 *
 * @example Usage
 * ```ts ignore
 * const network = new Network(host); // host: the database's NetworkHost
 * network.init({ databaseId: "db-id", apiKey: "key" });
 * ```
 */
export class Network implements CloudSyncNetwork {
  #host: NetworkHost;
  #ready = false;
  // Set before cloudsync_network_init runs (even a failed init may allocate),
  // cleared by cleanup()/logout(): whether cloudsync_network_cleanup() is due.
  #context = false;
  #secrets: string[] = [];

  /** @param host The owning database's call hooks. */
  constructor(host: NetworkHost) {
    this.#host = host;
  }

  /** See {@linkcode CloudSyncNetwork.ready}. */
  get ready(): boolean {
    return this.#ready;
  }

  /** See {@linkcode CloudSyncNetwork.init}. */
  init(options: NetworkInitOptions): void {
    this.#host.assertOpen();
    const { databaseId, address, apiKey, token } = options ?? ({} as NetworkInitOptions);
    assertDatabaseId(databaseId);
    if (apiKey !== undefined && token !== undefined) {
      throw new TypeError("Pass either apiKey or token, not both");
    }
    const key = apiKey === undefined ? undefined : assertSecret(apiKey, "apiKey");
    const jwt = token === undefined ? undefined : assertSecret(token, "token");
    const base = address === undefined ? undefined : assertAddress(address);
    // The id is no credential, but a key pasted in its place would travel in request paths
    // that a server may echo: redact it like one.
    rememberSecret(databaseId);
    this.#ready = false;
    this.#context = true;
    if (base === undefined) {
      this.#host.call(
        "SELECT cloudsync_network_init(?) AS v",
        [databaseId],
        "network.init()",
        this.#secrets,
      );
    } else {
      this.#host.call(
        "SELECT cloudsync_network_init_custom(?, ?) AS v",
        [base, databaseId],
        "network.init()",
        this.#secrets,
      );
    }
    this.#ready = true;
    if (key !== undefined) this.setApiKey(key);
    if (jwt !== undefined) this.setToken(jwt);
  }

  /** See {@linkcode CloudSyncNetwork.setApiKey}. */
  setApiKey(apiKey: string): void {
    const key = assertSecret(apiKey, "apiKey");
    this.#assertReady("setApiKey()");
    this.#remember(key);
    this.#host.call(
      "SELECT cloudsync_network_set_apikey(?) AS v",
      [key],
      "network.setApiKey()",
      this.#secrets,
    );
  }

  /** See {@linkcode CloudSyncNetwork.setToken}. */
  setToken(token: string): void {
    const jwt = assertSecret(token, "token");
    this.#assertReady("setToken()");
    this.#remember(jwt);
    this.#host.call(
      "SELECT cloudsync_network_set_token(?) AS v",
      [jwt],
      "network.setToken()",
      this.#secrets,
    );
  }

  /** See {@linkcode CloudSyncNetwork.sendChanges}. */
  sendChanges(): SendResult {
    return parseSendResult(
      this.#text("SELECT cloudsync_network_send_changes() AS v", [], "network.sendChanges()"),
    );
  }

  /** See {@linkcode CloudSyncNetwork.receiveChanges}. */
  receiveChanges(options: { maxChunks?: number } = {}): ReceiveResult {
    const { maxChunks } = options;
    if (maxChunks === undefined) {
      return parseReceiveResult(
        this.#text(
          "SELECT cloudsync_network_receive_changes() AS v",
          [],
          "network.receiveChanges()",
        ),
      );
    }
    if (!Number.isSafeInteger(maxChunks)) {
      throw new RangeError(
        `receiveChanges(): maxChunks must be an integer, got ${describeValue(maxChunks)}`,
      );
    }
    return parseReceiveResult(
      this.#text(
        "SELECT cloudsync_network_receive_changes(?) AS v",
        [maxChunks],
        "network.receiveChanges()",
      ),
    );
  }

  /** See {@linkcode CloudSyncNetwork.sync}. */
  sync(options: SyncOptions = {}): SyncResult {
    const { waitMs = 100, maxAttempts = 1 } = options;
    if (!Number.isSafeInteger(waitMs) || waitMs < 0 || waitMs > 600_000) {
      throw new RangeError(
        `sync(): waitMs must be an integer from 0 to 600000, got ${describeValue(waitMs)}`,
      );
    }
    if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 1000) {
      throw new RangeError(
        `sync(): maxAttempts must be an integer from 1 to 1000, got ${describeValue(maxAttempts)}`,
      );
    }
    try {
      return parseSyncResult(
        this.#text(
          "SELECT cloudsync_network_sync(?, ?) AS v",
          [waitMs, maxAttempts],
          "network.sync()",
        ),
      );
    } catch (err) {
      if (options.diagnose === false || !(err instanceof SqliteSyncError) || !err.partial) {
        throw err;
      }
      throw this.#diagnose(err);
    }
  }

  /** Asks `/status` why a sync's receive phase failed; keeps the partial result. */
  #diagnose(trap: SqliteSyncError): SqliteSyncError {
    try {
      this.#host.call("SELECT cloudsync_network_status() AS v", [], "status", this.#secrets);
      return trap; // The server answers now: the failure was transient.
    } catch (err) {
      if (!(err instanceof SqliteSyncError)) return trap;
      const cause = err.message.replace(/^status failed: /, "");
      // trap.partial is set (sync() diagnoses only then): what it says the send phase did.
      const sent = sendPhaseNote(trap.partial!);
      return new SqliteSyncError(
        err.kind,
        `network.sync() failed: the receive phase failed and a follow-up status request says: ${cause}` +
          ` (${sent}; the partial result is attached as 'partial')`,
        { cause: err, code: err.code, status: err.status, partial: trap.partial },
      );
    }
  }

  /** See {@linkcode CloudSyncNetwork.hasUnsentChanges}. */
  hasUnsentChanges(): boolean {
    this.#assertReady("hasUnsentChanges()");
    return Number(
      this.#host.call(
        "SELECT cloudsync_network_has_unsent_changes() AS v",
        [],
        "network.hasUnsentChanges()",
        this.#secrets,
      ),
    ) === 1;
  }

  /** See {@linkcode CloudSyncNetwork.status}. */
  status(): ServerStatus {
    const text = this.#text("SELECT cloudsync_network_status() AS v", [], "network.status()");
    try {
      const body = JSON.parse(text);
      return (body && typeof body === "object" && "data" in body
        ? body.data
        : body) as ServerStatus;
    } catch (err) {
      throw new SqliteSyncError(
        "http",
        `network.status() failed: the server's status is not JSON`,
        { cause: err },
      );
    }
  }

  /** See {@linkcode CloudSyncNetwork.resetSyncVersion}. */
  resetSyncVersion(): void {
    this.#assertReady("resetSyncVersion()");
    this.#host.call(
      "SELECT cloudsync_network_reset_sync_version() AS v",
      [],
      "network.resetSyncVersion()",
      this.#secrets,
    );
  }

  /** See {@linkcode CloudSyncNetwork.logout}. */
  logout(options: { deleteLocalData: true }): void {
    if (options?.deleteLocalData !== true) {
      throw new TypeError(
        "logout() deletes every local row of every synced table: pass { deleteLocalData: true } to confirm",
      );
    }
    this.#assertReady("logout()");
    const blocks = this.#host.blockTables();
    if (blocks.length > 0) {
      // 1.1.4 re-inits each table with its column-level "block" setting as the
      // algorithm and fails with "Unknown CRDT algorithm name block".
      throw new SqliteSyncError(
        "state",
        `logout() cannot run while ${blocks.map((t) => JSON.stringify(t)).join(", ")} ` +
          `ha${
            blocks.length > 1 ? "ve" : "s"
          } block-level columns: sqlite-sync 1.1.4 fails on them ` +
          `("Unknown CRDT algorithm name block") and rolls back. Remove the table(s) from sync with ` +
          `cleanup() first, or clear the local data yourself.`,
      );
    }
    this.#host.call(
      "SELECT cloudsync_network_logout() AS v",
      [],
      "network.logout()",
      this.#secrets,
    );
    this.#ready = false;
    this.#context = false;
    this.#secrets = [];
    this.#host.afterLogout();
  }

  /** See {@linkcode CloudSyncNetwork.cleanup}. */
  cleanup(): void {
    this.#host.assertOpen();
    if (!this.#context) return;
    this.#ready = false;
    this.#host.call(
      "SELECT cloudsync_network_cleanup() AS v",
      [],
      "network.cleanup()",
      this.#secrets,
    );
    this.#context = false;
  }

  #assertReady(operation: string): void {
    this.#host.assertOpen();
    if (!this.#ready) {
      throw new SqliteSyncError("state", `network.${operation} needs network.init() first.`);
    }
  }

  #remember(secret: string): void {
    // Every later error of the process redacts it; `user:password` keys also by their password.
    rememberSecret(secret);
    if (secret.includes(":")) rememberSecret(secret.slice(secret.indexOf(":") + 1));
    // Most recent last; a token refreshed every few minutes must not grow the list forever.
    this.#secrets = [...this.#secrets.filter((s) => s !== secret), secret].slice(-MAX_SECRETS);
  }

  #text(sql: string, params: SqlValue[], operation: string): string {
    this.#assertReady(operation.replace(/^network\./, ""));
    const v = this.#host.call(sql, params, operation, this.#secrets);
    if (typeof v !== "string") {
      throw new SqliteSyncError(
        "sql",
        `${operation} returned ${describeValue(v)} instead of JSON text`,
      );
    }
    return v;
  }
}
