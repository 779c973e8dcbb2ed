/**
 * The calls an executor's main side waits for: ids, settlement, and the one
 * timer that keeps the process alive while an answer is awaited (the Worker
 * or child itself never does).
 *
 * @module
 */
import { SqliteSyncError } from "../../common/errors.ts";

/** A call sent to the executor and not answered yet. */
export interface Pending {
  /** Settles the caller's promise with the answer. */
  resolve(value: unknown): void;
  /** Rejects the caller's promise. */
  reject(err: Error): void;
  /** The method, for messages (e.g. `sync()`). */
  operation: string;
  /** The caller's job id (sync). */
  jobId?: number;
  /** The call's deadline timer. */
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * The pending calls of one executor, and its keep-alive: a timer runs while
 * a call is pending or something is pinned (starting, closing).
 *
 * @example Usage
 * ```ts
 * import { PendingCalls } from "./_executor_calls.ts";
 * const calls = new PendingCalls();
 * const id = calls.nextId();
 * calls.add(id, { resolve: (v) => console.log(v), reject: () => {}, operation: "dbVersion()" });
 * calls.settle(id)?.resolve(3); // logs 3; the keep-alive timer is gone
 * ```
 */
export class PendingCalls {
  #calls = new Map<number, Pending>();
  #nextId = 1;
  #pins = 0;
  #keepAlive: ReturnType<typeof setInterval> | undefined;

  /** Calls not answered yet. */
  get size(): number {
    return this.#calls.size;
  }

  /** A fresh request id. */
  nextId(): number {
    return this.#nextId++;
  }

  /** Registers a call (the process stays alive until it settles). */
  add(id: number, pending: Pending): void {
    this.#calls.set(id, pending);
    this.#update();
  }

  /** The pending call with this id. */
  get(id: number): Pending | undefined {
    return this.#calls.get(id);
  }

  /** The first pending call that matches. */
  find(predicate: (pending: Pending) => boolean): Pending | undefined {
    return [...this.#calls.values()].find(predicate);
  }

  /** Removes a call (and its deadline timer); the caller settles it. */
  settle(id: number): Pending | undefined {
    const pending = this.#calls.get(id);
    if (pending?.timer !== undefined) clearTimeout(pending.timer);
    this.#calls.delete(id);
    this.#update();
    return pending;
  }

  /** Rejects every pending call with kind `interrupted` (a pending `close()` resolves). */
  rejectAll(message: (pending: Pending) => string): void {
    for (const id of [...this.#calls.keys()]) {
      const pending = this.settle(id)!;
      if (pending.operation === "close()") pending.resolve(undefined);
      else pending.reject(new SqliteSyncError("interrupted", message(pending)));
    }
  }

  /** Keeps the process alive until the matching `unpin()`. */
  pin(): void {
    this.#pins++;
    this.#update();
  }

  /** Ends one `pin()`. */
  unpin(): void {
    this.#pins = Math.max(0, this.#pins - 1);
    this.#update();
  }

  #update(): void {
    if (this.#calls.size > 0 || this.#pins > 0) {
      this.#keepAlive ??= setInterval(() => {}, 2 ** 30);
    } else if (this.#keepAlive !== undefined) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = undefined;
    }
  }
}
