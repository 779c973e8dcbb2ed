/**
 * The life of one executor seen from the main side: starting the Worker or
 * child and waiting for its `ready` (the protocol handshake), routing calls
 * to it and its answers back, hearing that it exited or that a sync passed
 * its deadline, and ending it (gracefully, then the hard way). The public
 * `Executor` (in `executor.ts`) drives one of these, and starts it again on
 * `restart()`.
 *
 * @module
 */
import { SqliteSyncError } from "../../common/errors.ts";
import type { RuntimeName } from "../../ffi/runtime.ts";
import { type Pending, PendingCalls } from "./_executor_calls.ts";
import {
  type Channel,
  type ChannelExit,
  exitSummary,
  openChannel,
  stderrHeadline,
} from "./_executor_channel.ts";
import {
  DEFAULTS,
  delay,
  type ExecutorCrash,
  type ExecutorOptions,
  type ExecutorState,
  EXIT_WAIT_MS,
} from "./_executor_options.ts";
import {
  type ExecutorKind,
  fromErrorData,
  PROTOCOL_VERSION,
  type Reply,
  type Request,
} from "./_executor_protocol.ts";

/** What an {@linkcode ExecutorLifecycle} needs besides the caller's options. */
export interface LifecycleSetup {
  /** Worker or child process. */
  kind: ExecutorKind;
  /** The runtime running us (chooses a child's command line). */
  runtime: RuntimeName;
  /** The entry module the Worker or child runs. */
  entry: URL;
  /** Removes the credentials the executor was given from a message. */
  redact(text: string): string;
}

/** Per-call details of {@linkcode ExecutorLifecycle.call}. */
export interface CallMeta {
  /** The caller's job id (sync), for messages and crash reports. */
  jobId?: number;
  /** Ends the executor when no answer came within this many ms. */
  deadlineMs?: number;
}

/**
 * One executor's channel, its state and its pending calls. `start()` opens
 * a fresh channel (again after an exit or an `end()`); a channel that was
 * replaced or let go of is no longer heard.
 *
 * @example Usage
 * ```ts ignore
 * import { ExecutorLifecycle } from "./_executor_lifecycle.ts";
 * import { executorEntry } from "./executor.ts";
 * const life = new ExecutorLifecycle({ path: "app.db", extensionPath: "/path/cloudsync.so" }, {
 *   kind: "process",
 *   runtime: "bun",
 *   entry: executorEntry(),
 *   redact: (text) => text,
 * });
 * await life.start();
 * console.log(await life.call<number>({ t: "dbVersion", id: 0 }, "dbVersion()"));
 * await life.end(1000, "closed while it was in flight");
 * ```
 */
export class ExecutorLifecycle {
  /** Where the executor stands (`close()` and `restart()` move it too). */
  state: ExecutorState = "running";
  #options: ExecutorOptions;
  #setup: LifecycleSetup;
  #channel: Channel | undefined;
  #calls = new PendingCalls();
  #starting: { resolve(): void; reject(err: Error): void } | undefined;
  #exitWaiters: (() => void)[] = [];

  /**
   * Prepares the lifecycle; nothing starts until {@linkcode ExecutorLifecycle.start}.
   *
   * @param options The caller's options (read when needed: `startTimeoutMs`,
   *   `runtimeArgs`, `onCrash`, `onDataVersionChange`).
   * @param setup Kind, runtime, entry and the redaction of credentials.
   */
  constructor(options: ExecutorOptions, setup: LifecycleSetup) {
    this.#options = options;
    this.#setup = setup;
  }

  /** The process the executor runs in: the child's id, or this process's for a Worker. */
  get pid(): number | undefined {
    return this.#channel?.pid;
  }

  /** Calls sent and not answered yet. */
  get inFlight(): number {
    return this.#calls.size;
  }

  /** Keeps the process alive (while closing or restarting) until the matching `unpin()`. */
  pin(): void {
    this.#calls.pin();
  }

  /** Ends one `pin()`. */
  unpin(): void {
    this.#calls.unpin();
  }

  /**
   * Starts the Worker or child and waits for its `ready`.
   *
   * @throws {SqliteSyncError} `interrupted` when it exits, speaks another protocol
   *   or does not start within `startTimeoutMs` (the state is then `exited`).
   */
  async start(): Promise<void> {
    const startTimeoutMs = this.#options.startTimeoutMs ?? DEFAULTS.startTimeoutMs;
    const ready = new Promise<void>((resolve, reject) => {
      this.#starting = { resolve, reject };
    });
    this.#calls.pin();
    const channel: Channel = openChannel(
      {
        kind: this.#setup.kind,
        entry: this.#setup.entry,
        runtime: this.#setup.runtime,
        runtimeArgs: this.#options.runtimeArgs,
      },
      {
        onMessage: (message) => this.#onMessage(channel, message),
        onExit: (exit) => this.#onExit(channel, exit),
      },
    );
    this.#channel = channel;
    const timer = delay(startTimeoutMs);
    try {
      const outcome = await Promise.race([ready.then(() => "ready" as const), timer.done]);
      if (outcome === "timeout") {
        this.#discard(channel);
        throw new SqliteSyncError(
          "interrupted",
          `executor (${this.#setup.kind}) did not start within ${startTimeoutMs} ms${
            this.#setup.redact(stderrHeadline(channel.stderrTail()))
          }`,
        );
      }
    } catch (err) {
      this.state = "exited";
      throw err;
    } finally {
      timer.cancel();
      this.#starting = undefined;
      this.#calls.unpin();
    }
  }

  /**
   * Sends a request (its `id` replaced by a fresh one) and waits for the answer.
   *
   * @param request The request.
   * @param operation The method, for messages (e.g. `sync()`).
   * @param meta Job id and deadline.
   * @returns The answer's value; rejects with the executor's error re-created,
   *   `interrupted` when it exited, `state` when it is not running.
   */
  call<T>(request: Request, operation: string, meta: CallMeta = {}): Promise<T> {
    if (this.state !== "running" || !this.#channel) {
      return Promise.reject(
        this.state === "exited"
          ? new SqliteSyncError(
            "interrupted",
            `${operation}: the executor exited; call restart() to start a new one.`,
          )
          : new SqliteSyncError("state", `${operation}: the executor is ${this.state}.`),
      );
    }
    const id = this.#calls.nextId();
    const channel = this.#channel;
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        resolve: resolve as (value: unknown) => void,
        reject,
        operation,
        jobId: meta.jobId,
      };
      if (meta.deadlineMs !== undefined) {
        pending.timer = setTimeout(
          () => this.#deadline(channel, id, meta.deadlineMs!),
          meta.deadlineMs,
        );
      }
      this.#calls.add(id, pending);
      channel.send({ ...request, id } as Request);
    });
  }

  /**
   * Ends the running executor: asks it to close its database, waits up to
   * `graceMs` for the answer (a call in flight finishes first), then ends it
   * the hard way; rejects what is left; releases every handle.
   *
   * @param graceMs How long the executor may take to close by itself.
   * @param why Ends the message of the calls rejected (e.g. "closed while it was in flight").
   */
  async end(graceMs: number, why: string): Promise<void> {
    const channel = this.#channel;
    if (!channel) return;
    this.state = "closing";
    const exited = new Promise<void>((resolve) => this.#exitWaiters.push(resolve));
    const closed = this.#sendClose(channel);
    const grace = delay(graceMs);
    const outcome = await Promise.race([closed, exited.then(() => "exited" as const), grace.done]);
    grace.cancel();
    if (outcome !== "exited") {
      // A Worker is ended by terminate() even after a clean close; a child exits by itself.
      if (outcome === "timeout" || channel.kind === "worker") channel.kill();
      const wait = delay(EXIT_WAIT_MS);
      const ended = await Promise.race([exited.then(() => "exited" as const), wait.done]);
      wait.cancel();
      if (ended === "timeout") {
        channel.kill();
        // Bun/Node Workers blocked in native code never report their exit: let go of them.
        this.#exitWaiters.length = 0;
      }
    }
    this.#calls.rejectAll((p) => `${p.operation} ${why}`);
    this.#discard(channel);
  }

  #onMessage(channel: Channel, message: Reply): void {
    if (channel !== this.#channel) return;
    switch (message.t) {
      case "ready":
        if (message.protocol !== PROTOCOL_VERSION) {
          this.#starting?.reject(
            new SqliteSyncError(
              "interrupted",
              `executor entry speaks protocol ${message.protocol}, expected ${PROTOCOL_VERSION} ` +
                `(an entry from another version of the library: check the 'entry' option)`,
            ),
          );
          this.#discard(channel);
          return;
        }
        this.#starting?.resolve();
        return;
      case "ok":
      case "err": {
        const pending = this.#calls.settle(message.id);
        if (!pending) return;
        if (message.t === "ok") pending.resolve(message.value);
        else pending.reject(fromErrorData(message.error));
        return;
      }
      case "change": {
        const listener = this.#options.onDataVersionChange;
        if (!listener) return;
        try {
          listener({ dbVersion: message.dbVersion, previous: message.previous });
        } catch (err) {
          queueMicrotask(() => {
            throw err;
          });
        }
        return;
      }
    }
  }

  #onExit(channel: Channel, exit: ChannelExit): void {
    if (channel !== this.#channel) return;
    for (const wake of this.#exitWaiters.splice(0)) wake();
    channel.dispose();
    this.#channel = undefined;
    const how = this.#setup.redact(exitSummary(exit, channel.stderrTail()));
    if (this.#starting) {
      this.state = "exited";
      this.#starting.reject(
        new SqliteSyncError(
          "interrupted",
          `executor (${this.#setup.kind}) exited before it was ready ${how}`,
        ),
      );
      return;
    }
    if (this.state === "closing") return; // close()/restart() ends it; they settle the rest.
    this.state = "exited";
    const inFlight = this.#calls.find((p) => p.operation === "sync()");
    this.#calls.rejectAll((p) => `executor exited during ${p.operation} ${how}`);
    this.#report({
      reason: "exited",
      code: exit.code,
      signal: exit.signal,
      jobId: inFlight?.jobId,
      message: `executor (${this.#setup.kind}) exited unexpectedly ${how}`,
    });
  }

  /** A sync passed its deadline: reject it, end the executor, report. */
  #deadline(channel: Channel, id: number, deadlineMs: number): void {
    if (channel !== this.#channel) return;
    const pending = this.#calls.settle(id);
    if (!pending) return;
    pending.reject(
      new SqliteSyncError(
        "timeout",
        `sync()${pending.jobId === undefined ? "" : ` (job ${pending.jobId})`} did not return ` +
          `within its deadline of ${deadlineMs} ms; the executor was ended (restart() it)`,
      ),
    );
    this.state = "exited";
    this.#discard(channel);
    this.#calls.rejectAll((p) =>
      `${p.operation} was interrupted: the executor was ended after a deadline`
    );
    this.#report({
      reason: "deadline",
      code: null,
      signal: null,
      jobId: pending.jobId,
      message: `executor (${this.#setup.kind}) ended: a sync passed its ${deadlineMs} ms deadline`,
    });
  }

  /** Sends `close`; resolves `"closed"` when it is answered (ok or error). */
  #sendClose(channel: Channel): Promise<"closed"> {
    const id = this.#calls.nextId();
    return new Promise((resolve) => {
      const done = () => resolve("closed");
      this.#calls.add(id, { resolve: done, reject: done, operation: "close()" });
      channel.send({ t: "close", id });
    });
  }

  #discard(channel: Channel): void {
    if (this.#channel === channel) this.#channel = undefined;
    channel.kill();
    channel.dispose();
  }

  #report(crash: ExecutorCrash): void {
    const listener = this.#options.onCrash;
    if (!listener) return;
    try {
      listener(crash);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}
