/**
 * The SSRF guard for webhook URLs: a client hands us a URL we will POST to, so it must not point
 * into our own network. Two layers: checks when the push config is created (`checkWebhookUrl`,
 * `checkWebhookTarget`), and a `lookup` hook for `http.request` (`guardedLookup`) that checks
 * every address at connect time, so a name that re-resolves to 127.0.0.1 (DNS rebinding) is still
 * refused. An IP-literal host skips `lookup` in Node, so `checkWebhookUrl` judges literals itself.
 * Left out: redirects (the sender follows none) and the HTTP request itself.
 *
 * @module
 */

import { BlockList, isIP } from "node:net";
import { promises as dnsPromises } from "node:dns";
import type { LookupAddress, LookupOptions } from "node:dns";
import { SsrfError } from "./errors.ts";

/** Who may be reached despite the blocked ranges. */
export interface SsrfOptions {
  /**
   * Open every blocked range (loopback, private, link-local, ...), e.g. for a local demo.
   * @default {false}
   */
  allowPrivate?: boolean;
  /**
   * CIDRs (`"10.1.0.0/16"`, `"fd00::/8"`), single IPs, or exact host names (`"hooks.internal"`,
   * case-insensitive) that are allowed even inside a blocked range.
   * @default {[]}
   */
  allowlist?: string[];
}

/** Resolves a host name to every address it has, like `dns.lookup(name, {all: true})`. */
export type ResolverFunction = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

type ResolvedAddress = { address: string; family: number };

/** The `lookup` option of `http.request`: `dns.lookup` as Node's `net` calls it. */
export type LookupFunction = (
  hostname: string,
  options: LookupOptions,
  callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void,
) => void;

// Checked in this order, first match wins: the specific IPv6 ranges (::1, fe80::/10, ...) sit
// inside the broad RESERVED ones. IPv6 outside 2000::/3 is not global unicast, so no webhook
// receiver can live there; blocking it whole also covers the deprecated IPv4-compatible ::/96
// and site-local fec0::/10. 6to4 (2002::/16) and Teredo (2001::/32) are blocked rather than
// decoded: both tunnel to an IPv4 address through relays, and nobody hosts webhooks there now.
const BLOCKED_RANGES: ReadonlyArray<readonly [code: string, description: string, ranges: readonly string[]]> = [
  ["UNSPECIFIED", "an unspecified address", ["0.0.0.0/8", "::/128"]],
  ["LOOPBACK", "a loopback address", ["127.0.0.0/8", "::1/128"]],
  ["PRIVATE", "a private address", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]],
  ["LINK_LOCAL", "a link-local address", ["169.254.0.0/16", "fe80::/10"]],
  ["CGNAT", "a carrier-grade NAT (shared) address", ["100.64.0.0/10"]],
  ["MULTICAST", "a multicast address", ["224.0.0.0/4", "ff00::/8"]],
  ["ULA", "an IPv6 unique local address", ["fc00::/7"]],
  ["RESERVED", "in a reserved or documentation range", [
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "240.0.0.0/4",
    "::/3", "4000::/2", "8000::/1", "2001::/32", "2001:2::/48", "2001:10::/28", "2001:20::/28",
    "2001:db8::/32", "2002::/16", "3fff::/20",
  ]],
];

// Node's BlockList matches an IPv4 address against IPv6 rules (as ::ffff:a.b.c.d) and Deno's
// does not, so each family gets its own list and is only ever checked against it.
type RangeSet = Record<"ipv4" | "ipv6", BlockList>;

let blockedSets: Array<readonly [string, RangeSet]> | undefined;

/**
 * Judges one IP address: `undefined` if a webhook may be sent to it, else why not.
 *
 * IPv4-mapped (`::ffff:7f00:1`) and NAT64 (`64:ff9b::/96`) IPv6 addresses are judged as the IPv4
 * address they carry: DNS64 gives public IPv4 hosts NAT64 addresses, which must stay reachable,
 * while `64:ff9b::a00:1` reaches 10.0.0.1. A zone suffix (`fe80::1%eth0`) is ignored.
 *
 * @param address An IPv4 or IPv6 address, without brackets.
 * @param options `allowPrivate` and `allowlist`; see {@linkcode SsrfOptions}.
 * @returns `undefined` when allowed, else `LOOPBACK`, `PRIVATE`, `LINK_LOCAL`, `CGNAT`,
 *   `MULTICAST`, `UNSPECIFIED`, `RESERVED`, `ULA`, or `INVALID_ADDRESS` for a non-IP string.
 * @throws {TypeError} If an `allowlist` entry is neither a CIDR, an IP nor a host name.
 *
 * @example Judge a few addresses
 * ```ts
 * import assert from "node:assert/strict";
 * import { blockedReason } from "./ssrf.ts";
 * assert.equal(blockedReason("::ffff:7f00:1"), "LOOPBACK");
 * assert.equal(blockedReason("10.1.2.3", { allowlist: ["10.1.0.0/16"] }), undefined);
 * assert.equal(blockedReason("93.184.216.34"), undefined);
 * ```
 */
export function blockedReason(address: string, options?: SsrfOptions): string | undefined {
  const { allowPrivate = false, allowlist = [] } = options ?? {};
  const ip = normalizeAddress(address);
  if (ip === undefined) return "INVALID_ADDRESS";
  if (allowPrivate) return undefined;
  const { cidrs } = parseAllowlist(allowlist);
  if (cidrs[ip.family].check(ip.address, ip.family)) return undefined;
  if (ip.carrier !== undefined && cidrs.ipv6.check(ip.carrier, "ipv6")) return undefined;
  blockedSets ??= BLOCKED_RANGES.map(([code, , ranges]) => [code, buildRangeSet(ranges, "range")] as const);
  for (const [code, set] of blockedSets) {
    if (set[ip.family].check(ip.address, ip.family)) return code;
  }
  return undefined;
}

/**
 * The syntactic check of a webhook URL, done when a push config is created: scheme, credentials,
 * `localhost`, and hosts written as IP literals. Host names are not resolved here; see
 * {@linkcode checkWebhookTarget} and {@linkcode guardedLookup} for that.
 *
 * @param url The webhook URL as the client sent it.
 * @param options `allowPrivate` and `allowlist`; an allowlisted host name skips the host checks.
 * @returns The parsed URL.
 * @throws {SsrfError} With code `INVALID_URL`, `SCHEME`, `CREDENTIALS`, `LOCALHOST`, or the
 *   {@linkcode blockedReason} of an IP-literal host.
 * @throws {TypeError} If an `allowlist` entry is malformed.
 *
 * @example Refuse a loopback literal, however it is spelled
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkWebhookUrl } from "./ssrf.ts";
 * assert.throws(() => checkWebhookUrl("http://0x7f.1/hook"), { code: "LOOPBACK" });
 * assert.equal(checkWebhookUrl("https://93.184.216.34/hook").hostname, "93.184.216.34");
 * ```
 */
export function checkWebhookUrl(url: string, options?: SsrfOptions): URL {
  const { allowPrivate = false, allowlist = [] } = options ?? {};
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    // The text is not echoed: a webhook URL may carry a token in its query.
    // SsrfError takes no options, so the cause is attached after construction.
    throw Object.assign(new SsrfError("INVALID_URL", "Webhook URL is not a valid absolute URL"), { cause: error });
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new SsrfError("SCHEME", `Webhook URL scheme ${parsed.protocol} is not allowed; use http: or https:`);
  }
  const host = parsed.hostname;
  if (parsed.username !== "" || parsed.password !== "") {
    const why = "credentials in a URL end up in logs and the journal; send them in the push config's authentication";
    throw new SsrfError("CREDENTIALS", `Webhook URL for host ${host} contains a user name or password; ${why}`);
  }
  const bare = stripBrackets(host);
  if (isAllowlistedHost(bare, allowlist)) return parsed;
  const name = bare.replace(/\.$/, "");
  if (!allowPrivate && (name === "localhost" || name.endsWith(".localhost"))) {
    throw new SsrfError("LOCALHOST", `Webhook URL host ${host} is the local machine; pass allowPrivate to allow it`);
  }
  if (isIP(bare) !== 0) {
    const reason = blockedReason(bare, options);
    if (reason !== undefined) throw blockedError(`Webhook URL host ${host} is`, bare, reason);
  }
  return parsed;
}

/**
 * The full check of a webhook URL at creation time: {@linkcode checkWebhookUrl}, then, when the
 * host is a name, resolves it and checks every address. Connect-time checks are still needed,
 * since DNS answers change; see {@linkcode guardedLookup}.
 *
 * @param url The webhook URL as the client sent it.
 * @param options `allowPrivate`, `allowlist`, and `resolver` (default: `dns.lookup` with
 *   `{all: true}`); tests inject a resolver.
 * @returns The parsed URL.
 * @throws {SsrfError} Any code of {@linkcode checkWebhookUrl}; `UNRESOLVABLE` if DNS fails or
 *   returns nothing; the {@linkcode blockedReason} of the first blocked address.
 * @throws {TypeError} If an `allowlist` entry is malformed.
 *
 * @example Refuse a name that resolves to loopback
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkWebhookTarget } from "./ssrf.ts";
 * const resolver = async () => [{ address: "127.0.0.1", family: 4 }];
 * await assert.rejects(checkWebhookTarget("https://evil.example/", { resolver }), { code: "LOOPBACK" });
 * ```
 */
export async function checkWebhookTarget(
  url: string,
  options?: SsrfOptions & { resolver?: ResolverFunction },
): Promise<URL> {
  const { resolver = resolveWithDns, ...ssrfOptions } = options ?? {};
  const parsed = checkWebhookUrl(url, ssrfOptions);
  const host = stripBrackets(parsed.hostname);
  if (isIP(host) !== 0 || isAllowlistedHost(host, ssrfOptions.allowlist)) return parsed;
  let addresses: ResolvedAddress[];
  try {
    addresses = await resolver(host);
  } catch (error) {
    const message = `Webhook URL host ${host} could not be resolved: ${error instanceof Error ? error.message : error}`;
    throw Object.assign(new SsrfError("UNRESOLVABLE", message), { cause: error });
  }
  const refusal = judgeResolved(host, addresses, ssrfOptions);
  if (refusal !== undefined) throw refusal;
  return parsed;
}

/**
 * A `lookup` function for `http.request` that resolves every address of the host and refuses
 * the connection if any of them is blocked, so DNS rebinding cannot reach a private address.
 * An allowlisted host name skips the check. DNS errors from the resolver are passed on as they
 * are (with their `ENOTFOUND`-style codes), so the sender can treat them as retryable.
 *
 * @param options `allowPrivate`, `allowlist`, and `resolver` (default: `dns.lookup` with
 *   `{all: true}`).
 * @returns A function called as `(hostname, options, callback)`; it calls back with an
 *   {@linkcode SsrfError} (code as {@linkcode blockedReason}, or `UNRESOLVABLE` for an empty
 *   answer), else with `(null, addresses)` when `options.all` is true, or `(null, address,
 *   family)` for the first address otherwise.
 * @throws {TypeError} If an `allowlist` entry is malformed (checked once, here).
 *
 * @example Refuse a loopback answer at connect time
 * ```ts
 * import assert from "node:assert/strict";
 * import { guardedLookup } from "./ssrf.ts";
 * const lookup = guardedLookup({ resolver: async () => [{ address: "127.0.0.1", family: 4 }] });
 * lookup("evil.example", { all: true }, (error) => {
 *   assert.equal((error as { code?: string } | null)?.code, "LOOPBACK");
 * });
 * ```
 */
export function guardedLookup(options?: SsrfOptions & { resolver?: ResolverFunction }): LookupFunction {
  const { resolver = resolveWithDns, ...ssrfOptions } = options ?? {};
  parseAllowlist(ssrfOptions.allowlist ?? []); // throws now, not at the first request
  return function lookup(hostname, lookupOptions, callback) {
    const { all = false, family = 0 } = lookupOptions ?? {};
    const wanted = family === "IPv4" ? 4 : family === "IPv6" ? 6 : family;
    resolver(hostname).then(
      (addresses) => {
        // Every address is judged, whatever family was asked for; only then is the answer filtered.
        const usable = addresses.filter((a) => wanted === 0 || a.family === wanted);
        const refusal = isAllowlistedHost(hostname, ssrfOptions.allowlist)
          ? undefined
          : judgeResolved(hostname, addresses, ssrfOptions);
        if (refusal !== undefined || usable.length === 0) {
          const which = wanted === 0 ? "" : `IPv${wanted} `;
          const error = refusal ?? new SsrfError("UNRESOLVABLE", `Webhook URL host ${hostname} has no ${which}address`);
          return callback(error, all ? [] : "");
        }
        if (all) return callback(null, usable.map(({ address, family }) => ({ address, family })));
        callback(null, usable[0].address, usable[0].family);
      },
      (error: unknown) => {
        callback(error instanceof Error ? error : new Error(String(error)), all ? [] : "");
      },
    );
  };
}

function judgeResolved(hostname: string, addresses: ResolvedAddress[], options: SsrfOptions): SsrfError | undefined {
  const host = `Webhook URL host ${hostname}`;
  if (addresses.length === 0) return new SsrfError("UNRESOLVABLE", `${host} resolved to no address`);
  for (const { address } of addresses) {
    const reason = blockedReason(address, options);
    if (reason !== undefined) return blockedError(`${host} resolves to ${address}, which is`, address, reason);
  }
  return undefined;
}

function blockedError(prefix: string, address: string, reason: string): SsrfError {
  if (reason === "INVALID_ADDRESS") return new SsrfError(reason, `${prefix} not a valid IP address`);
  const ip = normalizeAddress(address);
  const embedded = ip?.carrier !== undefined ? ` (it carries IPv4 ${ip.address})` : "";
  const advice = "pass allowPrivate or allowlist it to allow it";
  const description = BLOCKED_RANGES.find(([code]) => code === reason)?.[1];
  return new SsrfError(reason, `${prefix} ${description}${embedded}; ${advice}`);
}

async function resolveWithDns(hostname: string): Promise<ResolvedAddress[]> {
  return await dnsPromises.lookup(hostname, { all: true });
}

/** An address as judged: `carrier` is the IPv6 form when an IPv4 address was unwrapped from it. */
interface NormalizedAddress {
  address: string;
  family: "ipv4" | "ipv6";
  carrier?: string;
}

function normalizeAddress(text: string): NormalizedAddress | undefined {
  const version = typeof text === "string" ? isIP(text) : 0;
  if (version === 4) return { address: text, family: "ipv4" };
  if (version !== 6) return undefined;
  // The URL parser writes IPv6 in one canonical form (lowercase, longest zero run compressed,
  // no dotted tail), so the two IPv4-carrying prefixes can be matched as text. It refuses zones.
  const original = new URL(`http://[${text.replace(/%.*$/, "")}]/`).hostname.slice(1, -1);
  const carried = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(original) ??
    /^64:ff9b::(?:([0-9a-f]{1,4}):)?([0-9a-f]{1,4})?$/.exec(original);
  if (carried === null) return { address: original, family: "ipv6" };
  const high = Number.parseInt(carried[1] ?? "0", 16);
  const low = Number.parseInt(carried[2] ?? "0", 16);
  const address = [high >> 8, high & 0xff, low >> 8, low & 0xff].join(".");
  return { address, family: "ipv4", carrier: original };
}

function stripBrackets(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

function normalizeHostname(name: string): string {
  return name.toLowerCase().replace(/\.$/, "");
}

function isAllowlistedHost(hostname: string, allowlist: readonly string[] = []): boolean {
  return allowlist.length > 0 && parseAllowlist(allowlist).hosts.has(normalizeHostname(hostname));
}

function parseAllowlist(entries: readonly string[]): { cidrs: RangeSet; hosts: Set<string> } {
  const cidrs: string[] = [];
  const hosts = new Set<string>();
  for (const entry of entries) {
    const text = typeof entry === "string" ? stripBrackets(entry.trim()) : "";
    if (text.includes("/") || isIP(text) !== 0) {
      cidrs.push(text);
    } else if (text !== "" && !/[:@?#\\\s]/.test(text) && URL.canParse(`http://${text}/`)) {
      // The URL parser lowercases and punycodes the name exactly as it does a URL's host.
      hosts.add(normalizeHostname(new URL(`http://${text}/`).hostname));
    } else {
      throw new TypeError(`Cannot use allowlist entry ${JSON.stringify(entry)}: expected a CIDR, IP or host name`);
    }
  }
  return { cidrs: buildRangeSet(cidrs, "allowlist entry"), hosts };
}

function buildRangeSet(ranges: readonly string[], what: string): RangeSet {
  const set = { ipv4: new BlockList(), ipv6: new BlockList() };
  for (const range of ranges) {
    const [network, prefixText, extra] = range.split("/");
    const version = isIP(network);
    const bits = version === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? bits : Number(prefixText);
    if (version === 0 || extra !== undefined || !/^\d{1,3}$/.test(prefixText ?? "0") || prefix > bits) {
      throw new TypeError(`Cannot use ${what} ${JSON.stringify(range)}: expected a CIDR like 10.0.0.0/8 or fd00::/8`);
    }
    const family = version === 4 ? "ipv4" : "ipv6";
    set[family].addSubnet(network, prefix, family);
  }
  return set;
}
