/**
 * Host names, spelled one way: what a `Host` header, a bind address or a config value names, and
 * whether it is the loopback interface. One decision shared by the daemon's config (a
 * non-loopback `http.host` needs a token) and the status app (the `Host` allowlist).
 *
 * @module
 */

/**
 * The host name of a `Host` value or an allowed-host entry, as a URL's `hostname` spells it
 * (WHATWG URL: lower case, IPv4 in dotted decimal, IPv6 compressed in brackets), without the
 * port or a trailing dot: `::1`, `[0:0::1]:8787` and `[::1]` are all `[::1]`.
 *
 * @param value A `Host` header value or a name.
 * @returns The name, or `undefined` when it is not a host with an optional port.
 *
 * @example Usage
 * ```ts ignore
 * import { hostName } from "./hosts.ts";
 * console.log(hostName("[0:0::1]:8787")); // "[::1]"
 * ```
 */
export function hostName(value: string): string | undefined {
  const v = value.trim();
  // A bare IPv6 address (a bind address such as ::1) has more than one colon and no brackets.
  const authority = !v.startsWith("[") && v.indexOf(":") !== v.lastIndexOf(":") ? `[${v}]` : v;
  if (authority === "" || /[\s/?#@\\]/.test(authority)) return undefined;
  try {
    return new URL(`http://${authority}/`).hostname.replace(/\.$/, "") || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `host` (a bind address or a name) is the loopback interface. Anything else (`0.0.0.0`,
 * `::`, another address or name) may be reached from the network.
 *
 * @param host `127.0.0.1`, `::1` (any spelling), `localhost`…
 * @returns `true` for 127.0.0.0/8, `::1` and `localhost`.
 *
 * @example Usage
 * ```ts ignore
 * import { isLoopback } from "./hosts.ts";
 * console.log(isLoopback("[0:0::1]"), isLoopback("0.0.0.0")); // true false
 * ```
 */
export function isLoopback(host: string): boolean {
  const name = hostName(host);
  return name === "localhost" || name === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(name ?? "");
}
