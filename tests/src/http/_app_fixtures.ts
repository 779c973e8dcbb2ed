/**
 * What the createApp() tests share (app_test.ts, app_sync_test.ts, app_health_test.ts): a
 * fixed clock, the two errors the statuses carry, two services (one ok, one degraded), a
 * service whose status cannot be read, and the three ways a request can carry a token.
 */
import type { SyncServiceStatus } from "../../../src/scheduler/status.ts";
import { attemptOf, FakeService, NOW, resultOf, statusOf, TOKEN } from "./_fakes.ts";

export const MIN = 60_000;
export const HOUR = 3_600_000;
export const fixed = () => NOW;
export const OFFLINE = {
  kind: "offline" as const,
  message: "Failed to connect to 127.0.0.1 port 9",
};
export const REFUSED = {
  kind: "auth" as const,
  message: "The server refused the API key.",
  status: 401,
};

/** `a`: ok (synced a minute ago); `b`: degraded (offline, last success 2 h ago). */
export function twoServices() {
  const a = new FakeService(statusOf(), [attemptOf(1, "success", 99 * MIN, { rowsReceived: 2 })]);
  const b = new FakeService(statusOf({
    state: "offline",
    consecutiveErrors: 1,
    lastError: OFFLINE,
    lastSuccessAt: NOW - 2 * HOUR,
  }));
  return { a, b, services: [{ name: "a", service: a }, { name: "b", service: b }] };
}

/** A service whose status() throws (a closed queue, a broken process). */
export function unreadable() {
  return {
    status: (): SyncServiceStatus => {
      throw new Error("queue closed");
    },
    attempts: () => [],
    syncNow: () => Promise.resolve(resultOf(0)),
  };
}

export const CREDENTIALS = {
  "no token": {},
  "a wrong token": { Authorization: "Bearer wrong-token-000000" },
  "the right token": { Authorization: `Bearer ${TOKEN}` },
} as const;
