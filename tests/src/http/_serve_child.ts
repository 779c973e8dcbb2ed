/**
 * Serves the server tests' fixture (`_serve_fixture.ts`) with `serve()` in
 * whatever runtime runs this file (Node 22 for the `@hono/node-server`
 * adapter), prints `PORT <n>`, and closes the server and exits when stdin
 * closes.
 *
 *   node tests/src/http/_serve_child.ts
 */
import process from "node:process";
import { serve } from "../../../src/http/serve.ts";
import { fixtureHandler, TEST_LIMITS } from "./_serve_fixture.ts";

const served = await serve(fixtureHandler(), { host: "127.0.0.1", port: 0 }, TEST_LIMITS);
process.stdout.write(`PORT ${served.port}\n`);
process.stdin.resume();
process.stdin.on("end", async () => {
  await served.close();
  process.exit(0);
});
