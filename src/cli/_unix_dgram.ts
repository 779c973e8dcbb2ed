/**
 * Sends one datagram to a Unix datagram socket (systemd's `NOTIFY_SOCKET`)
 * through libc's `socket()`/`sendto()`: `Deno.dlopen` in Deno (stable FFI,
 * `--allow-ffi`), `bun:ffi` in Bun. No native addon and no unstable API.
 * Node has no FFI without an addon, and none of the runtimes' socket APIs
 * sends to a Unix datagram socket (Deno's `unixpacket` datagrams need
 * `--unstable-net` and cannot reach abstract addresses), so this is a runtime
 * adapter.
 *
 * Paths starting with `@` are abstract addresses (a NUL byte first), as in
 * `sd_notify()`.
 *
 * @module
 */
import { detectRuntime } from "../../ffi/runtime.ts";

/** A datagram sender. */
export interface UnixDatagramSender {
  /** Sends `message`; throws an Error naming errno on failure. */
  send(message: string): void;
  /** Closes the socket. */
  close(): void;
}

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
const SUN_PATH = 108;
const ERRNO: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  11: "EAGAIN",
  13: "EACCES",
  20: "ENOTDIR",
  91: "EPROTOTYPE",
  97: "EAFNOSUPPORT",
  107: "ENOTCONN",
  111: "ECONNREFUSED",
};

/** `struct sockaddr_un` for `path` and its length (Linux layout, every architecture). */
function sockaddr(path: string): { addr: Uint8Array; len: number } {
  const bytes = new TextEncoder().encode(path);
  const abstract = path.startsWith("@");
  if (bytes.length === 0 || bytes.length >= SUN_PATH) {
    throw new RangeError(`NOTIFY_SOCKET must be a socket path under ${SUN_PATH} bytes`);
  }
  const addr = new Uint8Array(2 + SUN_PATH);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(bytes, 2);
  if (abstract) addr[2] = 0;
  // An abstract name's length is exact; a path's includes its NUL.
  return { addr, len: 2 + bytes.length + (abstract ? 0 : 1) };
}

/** The libc calls, bound by the runtime's FFI. */
interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  sendto(
    fd: number,
    buf: Uint8Array,
    len: number,
    flags: number,
    addr: Uint8Array,
    alen: number,
  ): number;
  close(fd: number): number;
  errno(): number;
}

const LIBC_NAMES = ["libc.so.6", "libc.so"];

// deno-lint-ignore no-explicit-any
const globals = globalThis as any;

function denoLibc(): Libc {
  let lib;
  let lastError: unknown;
  for (const name of LIBC_NAMES) {
    try {
      lib = globals.Deno.dlopen(name, {
        socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
        sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
        close: { parameters: ["i32"], result: "i32" },
        __errno_location: { parameters: [], result: "pointer" },
      });
      break;
    } catch (err) {
      lastError = err;
    }
  }
  if (!lib) {
    throw new Error(`cannot open libc through Deno FFI (${String(lastError)})`, {
      cause: lastError,
    });
  }
  const s = lib.symbols;
  return {
    socket: (d, t, p) => s.socket(d, t, p),
    sendto: (fd, buf, len, flags, addr, alen) =>
      Number(s.sendto(fd, buf, BigInt(len), flags, addr, alen)),
    close: (fd) => s.close(fd),
    errno: () => new globals.Deno.UnsafePointerView(s.__errno_location()).getInt32(0),
  };
}

async function bunLibc(): Promise<Libc> {
  // A variable keeps Deno's type checker and esbuild from resolving a Bun-only module.
  const spec = "bun:ffi";
  const ffi = await import(spec);
  const { dlopen, FFIType, read } = ffi;
  let lib;
  let lastError: unknown;
  for (const name of LIBC_NAMES) {
    try {
      lib = dlopen(name, {
        socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        sendto: {
          args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32],
          returns: FFIType.i64,
        },
        close: { args: [FFIType.i32], returns: FFIType.i32 },
        __errno_location: { args: [], returns: FFIType.ptr },
      });
      break;
    } catch (err) {
      lastError = err;
    }
  }
  if (!lib) {
    throw new Error(`cannot open libc through bun:ffi (${String(lastError)})`, {
      cause: lastError,
    });
  }
  const s = lib.symbols;
  return {
    socket: (d, t, p) => s.socket(d, t, p),
    sendto: (fd, buf, len, flags, addr, alen) => Number(s.sendto(fd, buf, len, flags, addr, alen)),
    close: (fd) => s.close(fd),
    errno: () => read.i32(s.__errno_location(), 0),
  };
}

/**
 * Opens a sender to the Unix datagram socket at `path`.
 *
 * @param path A socket path, or `@name` for an abstract address.
 * @returns The sender.
 * @throws {Error} When this runtime has no FFI (Node), libc cannot be opened, or `socket()` fails.
 */
export async function openUnixDatagram(path: string): Promise<UnixDatagramSender> {
  const { addr, len } = sockaddr(path);
  const runtime = detectRuntime().name;
  const libc = runtime === "deno" ? denoLibc() : runtime === "bun" ? await bunLibc() : (() => {
    throw new Error("Node has no FFI without a native addon");
  })();
  const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`socket(AF_UNIX, SOCK_DGRAM) failed (${errnoName(libc.errno())})`);
  let open = true;
  return {
    send(message: string): void {
      if (!open) throw new Error("the notify socket is closed");
      const buf = new TextEncoder().encode(message);
      const sent = libc.sendto(fd, buf, buf.length, MSG_NOSIGNAL, addr, len);
      if (sent !== buf.length) {
        throw new Error(`sendto(NOTIFY_SOCKET) failed (${errnoName(libc.errno())})`);
      }
    },
    close(): void {
      if (open) libc.close(fd);
      open = false;
    },
  };
}

function errnoName(errno: number): string {
  return ERRNO[errno] ?? `errno ${errno}`;
}
