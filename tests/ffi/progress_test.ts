import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createProgressReporter, formatProgress } from "../../ffi/progress.ts";

function stream(isTTY: boolean) {
  const out: string[] = [];
  return { out, isTTY, write: (s: string) => out.push(s) };
}

describe("createProgressReporter()", () => {
  it("createProgressReporter() stays silent when the stream is not a TTY", () => {
    assert.equal(createProgressReporter(stream(false), {}), undefined);
    assert.equal(createProgressReporter({ write: () => {} }, {}), undefined);
  });

  it("createProgressReporter() stays silent when CI is set", () => {
    assert.equal(createProgressReporter(stream(true), { CI: "true" }), undefined);
    assert.notEqual(createProgressReporter(stream(true), { CI: "false" }), undefined);
  });

  it("createProgressReporter() redraws one line with \\r and ends it once complete", () => {
    const s = stream(true);
    const report = createProgressReporter(s, {})!;
    const url = "https://registry.example/x/-/pkg-1.0.0.tgz";
    report({ url, received: 0, total: 2048 });
    report({ url, received: 1024, total: 2048 });
    report({ url, received: 2048, total: 2048 });
    report({ url, received: 2048, total: 2048 });
    assert.ok(s.out.slice(0, 3).every((line) => line.startsWith("\r")));
    assert.match(s.out[1], /pkg-1\.0\.0\.tgz \[#{12}-{12}\] {2}50% 1\.0 KB\/2\.0 KB/);
    assert.deepEqual(s.out.slice(3), ["\n"]);
  });
});

describe("formatProgress()", () => {
  it("formatProgress() shows only the size when the total is unknown, without the query string", () => {
    assert.equal(
      formatProgress({ url: "https://h/a/b.tgz?…", received: 3 * 1024 * 1024 }),
      "b.tgz 3.0 MB",
    );
  });
});
