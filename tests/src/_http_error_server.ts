/**
 * Child-process fixture: a TCP server that answers EVERY request with one
 * fixed HTTP error (same status and body whatever the method, path, headers
 * or body). It does not speak the CloudSync protocol: it never looks at what
 * was asked, it only waits for the request to end before answering.
 *
 * It must run in its own process: the extension's network calls block the
 * calling thread, so a server on the test's own event loop could never answer.
 *
 *   <runtime> tests/src/_http_error_server.ts <status> <reason> <body>
 *
 * Echo mode, for redaction tests: every `{{HEADERS}}` in <body> becomes the
 * request's header lines (Authorization included), JSON-escaped when the body
 * is JSON; every `{{AUTH_ENCODED}}` becomes the Authorization header's value
 * and then the credential alone (without its scheme) in each encoding a server
 * could echo it in (see _echo_encodings.ts), `{{CREDENTIAL_ENCODED}}` the
 * credential alone. The status stays the same fixed error whatever was asked.
 *
 * Prints `PORT <n>` on stdout once listening; exits when stdin closes (the
 * parent died or closed it) or after 120 s at the latest.
 */
import { createServer, type Socket } from "node:net";
import process from "node:process";
import { authorizationEncodings } from "./_echo_encodings.ts";

const [statusArg, reason = "Error", body = ""] = process.argv.slice(2);
const status = Number(statusArg);
if (!Number.isInteger(status) || status < 400 || status > 599) {
  process.stderr.write(`usage: _http_error_server.ts <4xx|5xx status> <reason> <body>\n`);
  process.exit(2);
}

const HEADER_END = "\r\n\r\n";
const ECHO = "{{HEADERS}}";
const ECHO_ENCODED = "{{AUTH_ENCODED}}";
const ECHO_CREDENTIAL = "{{CREDENTIAL_ENCODED}}";

/** The Authorization value (unless `credentialOnly`) and the credential alone, in every encoding. */
function authEncoded(requestHead: string, credentialOnly: boolean): string {
  const value = /\r\nauthorization:[ \t]*([^\r\n]*)/i.exec(requestHead)?.[1]?.trim();
  return value ? authorizationEncodings(value, credentialOnly).join("\n") : "";
}

/** The fixed response; in echo mode the request's header lines fill the placeholder. */
function response(requestHead: string): { head: string; payload: Uint8Array } {
  // The header lines only (not the request line), as received.
  const headers = requestHead.split("\r\n").slice(1).join("\r\n");
  const json = (text: string) => body.startsWith("{") ? JSON.stringify(text).slice(1, -1) : text;
  const filled = body.replaceAll(ECHO, () => json(headers))
    .replaceAll(ECHO_ENCODED, () => json(authEncoded(requestHead, false)))
    .replaceAll(ECHO_CREDENTIAL, () => json(authEncoded(requestHead, true)));
  const payload = new TextEncoder().encode(filled);
  const head = `HTTP/1.1 ${status} ${reason}\r\n` +
    `Content-Type: application/json\r\n` +
    `Content-Length: ${payload.length}\r\n` +
    `Connection: close\r\n\r\n`;
  return { head, payload };
}

function answerWhenRequestEnds(socket: Socket): void {
  let received = "";
  let answered = false;
  socket.setEncoding("latin1"); // byte-preserving: lengths count bytes
  socket.on("data", (chunk: string) => {
    if (answered) return;
    received += chunk;
    const end = received.indexOf(HEADER_END);
    if (end < 0) return;
    const match = /\r\ncontent-length:\s*(\d+)/i.exec(received.slice(0, end));
    const bodyLength = match ? Number(match[1]) : 0;
    if (received.length - (end + HEADER_END.length) < bodyLength) return;
    answered = true;
    const { head, payload } = response(received.slice(0, end));
    socket.write(head);
    socket.end(payload);
  });
  socket.on("error", () => socket.destroy());
}

const server = createServer(answerWhenRequestEnds);
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  process.stdout.write(`PORT ${port}\n`);
});

const stop = () => {
  server.close();
  process.exit(0);
};
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
setTimeout(stop, 120_000);
