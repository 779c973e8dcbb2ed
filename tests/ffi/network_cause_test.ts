/**
 * rootCause() reads the whole cause chain the way each runtime words it. The
 * chains below copy what Deno 2.9.6, Bun 1.4.5 and Node 22 threw from `fetch`
 * here (download_tls_test.ts produces the real ones end to end).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { errorCode, rootCause, tlsTrustFix } from "../../ffi/_network_cause.ts";

/** `fetch failed` wrapping a runtime error, as Deno and Node throw it. */
function wrapped(message: string, code?: string): TypeError {
  const inner = new Error(message);
  if (code !== undefined) Object.assign(inner, { code });
  return new TypeError("fetch failed", { cause: inner });
}

/** Bun throws the runtime error itself, with a code. */
function bare(message: string, code: string): TypeError {
  return Object.assign(new TypeError(message), { code });
}

const DENO_URL = "error sending request for url (https://127.0.0.1:9/): client error (Connect): ";

describe("rootCause()", () => {
  const cases: [string, unknown, string][] = [
    [
      "Deno, unknown issuer",
      wrapped(`${DENO_URL}invalid peer certificate: UnknownIssuer`),
      "tls-untrusted",
    ],
    [
      "Bun, unknown issuer",
      bare("unable to verify the first certificate", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"),
      "tls-untrusted",
    ],
    [
      "Node, unknown issuer",
      wrapped("unable to verify the first certificate", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"),
      "tls-untrusted",
    ],
    [
      "Node, self-signed",
      wrapped("self-signed certificate", "DEPTH_ZERO_SELF_SIGNED_CERT"),
      "tls-untrusted",
    ],
    ["Node, expired", wrapped("certificate has expired", "CERT_HAS_EXPIRED"), "tls"],
    [
      "Deno, DNS",
      wrapped(
        `${DENO_URL}dns error: failed to lookup address information: Name or service not known`,
      ),
      "dns",
    ],
    ["Bun, DNS", bare("getaddrinfo ENOTFOUND nonexistent.invalid", "ENOTFOUND"), "dns"],
    [
      "Deno, refused",
      wrapped(`${DENO_URL}tcp connect error: Connection refused (os error 111)`),
      "refused",
    ],
    [
      "Bun, refused",
      bare(
        "ECONNREFUSED: Unable to connect. Is the computer able to access the url?",
        "ECONNREFUSED",
      ),
      "refused",
    ],
    ["Node, refused", wrapped("connect ECONNREFUSED 127.0.0.1:9", "ECONNREFUSED"), "refused"],
    [
      "Node, connect time-out",
      wrapped("Connect Timeout Error", "UND_ERR_CONNECT_TIMEOUT"),
      "timeout",
    ],
    ["Node, reset", wrapped("read ECONNRESET", "ECONNRESET"), "reset"],
    [
      "Deno, blocked port",
      new TypeError("Fetch failed: Requests to port 1 are blocked"),
      "blocked-port",
    ],
    ["anything else", new Error("something odd"), "unknown"],
  ];
  for (const [label, err, kind] of cases) {
    it(`rootCause() names '${kind}' for ${label}`, () => {
      assert.equal(rootCause(err, "deno").kind, kind);
    });
  }

  it("rootCause() shows the innermost message without Deno's request preamble, and the code", () => {
    const deno = rootCause(wrapped(`${DENO_URL}invalid peer certificate: UnknownIssuer`), "deno");
    assert.match(
      deno.text,
      /^TLS certificate not trusted: invalid peer certificate: UnknownIssuer\./,
    );
    const node = rootCause(wrapped("connect ECONNREFUSED 127.0.0.1:9", "ECONNREFUSED"), "node");
    assert.equal(node.code, "ECONNREFUSED");
    assert.match(
      node.text,
      /^connection refused: connect ECONNREFUSED 127\.0\.0\.1:9; nothing listens/,
    );
  });

  it("rootCause() of a TLS trust failure names the fix of the runtime it is given", () => {
    const err = bare("unable to verify the first certificate", "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    assert.match(rootCause(err, "deno").text, /Deno: set DENO_TLS_CA_STORE=system .* DENO_CERT=/);
    assert.match(rootCause(err, "bun").text, /Bun: set NODE_EXTRA_CA_CERTS=/);
    assert.match(rootCause(err, "node").text, /Node: set NODE_EXTRA_CA_CERTS=/);
  });

  it("rootCause() finds a cause inside AggregateError.errors", () => {
    const inner = Object.assign(new Error("connect ECONNREFUSED ::1:9"), { code: "ECONNREFUSED" });
    const err = new TypeError("fetch failed", { cause: new AggregateError([inner], "") });
    assert.equal(rootCause(err, "node").kind, "refused");
    assert.equal(errorCode(err), "ECONNREFUSED");
  });
});

describe("tlsTrustFix()", () => {
  it("tlsTrustFix() names the variables each runtime was checked to honour", () => {
    assert.match(tlsTrustFix("deno"), /DENO_TLS_CA_STORE=system.*DENO_CERT=.*NODE_EXTRA_CA_CERTS/);
    assert.equal(tlsTrustFix("bun"), "Bun: set NODE_EXTRA_CA_CERTS=/path/to/proxy-ca.pem");
    assert.equal(tlsTrustFix("node"), "Node: set NODE_EXTRA_CA_CERTS=/path/to/proxy-ca.pem");
  });
});
