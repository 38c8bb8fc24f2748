import { test } from "node:test";
import assert from "node:assert/strict";
import type { LookupAddress } from "node:dns";
import type { RequestOptions } from "node:http";
import { blockedReason, checkWebhookTarget, checkWebhookUrl, guardedLookup } from "../lib/ssrf.ts";
import type { LookupFunction, ResolverFunction } from "../lib/ssrf.ts";
import { SsrfError } from "../lib/errors.ts";

// No test touches the real network: every name resolves through one of these.
function resolverOf(...addresses: string[]): ResolverFunction {
  return async () => addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
}

function failingResolver(): ResolverFunction {
  return async (hostname) => {
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
  };
}

interface LookupResult {
  error: Error | null;
  address: string | LookupAddress[];
  family?: number;
}

function runLookup(lookup: LookupFunction, hostname: string, all: boolean, family = 0): Promise<LookupResult> {
  return new Promise((resolve) => {
    lookup(hostname, { all, family }, (error, address, family) => resolve({ error, address, family }));
  });
}

const REFUSED: Array<[string, string]> = [
  ["http://127.0.0.1/hook", "LOOPBACK"],
  ["http://[::1]/hook", "LOOPBACK"],
  ["http://[::ffff:127.0.0.1]/hook", "LOOPBACK"],
  ["http://2130706433/hook", "LOOPBACK"],
  ["http://0x7f.1/hook", "LOOPBACK"],
  ["http://0177.0.0.1/hook", "LOOPBACK"],
  ["http://10.0.0.1/hook", "PRIVATE"],
  ["http://169.254.169.254/latest/meta-data/", "LINK_LOCAL"],
  ["http://localhost/hook", "LOCALHOST"],
  ["http://api.localhost./hook", "LOCALHOST"],
  ["http://[fd00::1]/hook", "ULA"],
  ["http://100.64.0.1/hook", "CGNAT"],
  ["http://0.0.0.0/hook", "UNSPECIFIED"],
  ["http://[64:ff9b::10.0.0.1]/hook", "PRIVATE"],
];

for (const [url, code] of REFUSED) {
  test(`checkWebhookUrl() refuses ${url} as ${code}`, () => {
    assert.throws(() => checkWebhookUrl(url), (error: unknown) => {
      assert.ok(error instanceof SsrfError);
      assert.equal(error.code, code);
      return true;
    });
  });

  test(`checkWebhookUrl() accepts ${url} with allowPrivate`, () => {
    assert.ok(checkWebhookUrl(url, { allowPrivate: true }) instanceof URL);
  });
}

test("checkWebhookUrl() refuses a decimal IPv4 loopback with a message naming host and reason", () => {
  assert.throws(() => checkWebhookUrl("http://2130706433/"), {
    name: "SsrfError",
    code: "LOOPBACK",
    message: "Webhook URL host 127.0.0.1 is a loopback address; pass allowPrivate or allowlist it to allow it",
  });
});

test("checkWebhookUrl() names the IPv4 address inside an IPv4-mapped host", () => {
  assert.throws(() => checkWebhookUrl("http://[::ffff:7f00:1]/"), /\[::ffff:7f00:1\].*IPv4 127\.0\.0\.1/);
});

test("checkWebhookUrl() refuses file:, ftp: and javascript: even with allowPrivate", () => {
  for (const url of ["file:///etc/passwd", "ftp://example.com/x", "javascript:alert(1)"]) {
    assert.throws(() => checkWebhookUrl(url, { allowPrivate: true }), { code: "SCHEME" });
  }
});

test("checkWebhookUrl() refuses credentials in the URL without echoing them", () => {
  assert.throws(() => checkWebhookUrl("https://user:s3cret@example.com/hook"), (error: unknown) => {
    assert.ok(error instanceof SsrfError);
    assert.equal(error.code, "CREDENTIALS");
    assert.match(error.message, /example\.com/);
    assert.doesNotMatch(error.message, /s3cret/);
    return true;
  });
});

test("checkWebhookUrl() refuses unparseable text as INVALID_URL", () => {
  assert.throws(() => checkWebhookUrl("not a url"), { code: "INVALID_URL" });
  assert.throws(() => checkWebhookUrl("http://1.2.3.4.5/"), { code: "INVALID_URL" });
});

test("checkWebhookUrl() accepts a public address and a host name", () => {
  assert.equal(checkWebhookUrl("http://93.184.216.34/hook").hostname, "93.184.216.34");
  assert.equal(checkWebhookUrl("https://hooks.example.com/a?b=c").pathname, "/a");
});

test("checkWebhookUrl() accepts an allowlisted CIDR, IP or host name", () => {
  assert.ok(checkWebhookUrl("http://10.1.2.3/", { allowlist: ["10.1.0.0/16"] }));
  assert.throws(() => checkWebhookUrl("http://10.2.0.1/", { allowlist: ["10.1.0.0/16"] }), { code: "PRIVATE" });
  assert.ok(checkWebhookUrl("http://[fd00::5]/", { allowlist: ["fd00::/8"] }));
  assert.ok(checkWebhookUrl("http://127.0.0.1:8080/", { allowlist: ["127.0.0.1"] }));
  assert.ok(checkWebhookUrl("http://localhost:8080/", { allowlist: ["LOCALHOST"] }));
});

test("checkWebhookUrl() throws TypeError for a malformed allowlist entry", () => {
  for (const entry of ["10.0.0.0/33", "10.0.0/8", "host:80", ""]) {
    assert.throws(() => checkWebhookUrl("http://10.0.0.1/", { allowlist: [entry] }), TypeError);
  }
});

test("blockedReason() names each blocked range", () => {
  const cases: Array<[string, string | undefined]> = [
    ["127.1.2.3", "LOOPBACK"], ["::1", "LOOPBACK"], ["172.31.255.255", "PRIVATE"], ["192.168.1.1", "PRIVATE"],
    ["fe80::1%eth0", "LINK_LOCAL"], ["100.127.0.1", "CGNAT"], ["239.1.1.1", "MULTICAST"], ["ff02::1", "MULTICAST"],
    ["::", "UNSPECIFIED"], ["0.1.2.3", "UNSPECIFIED"], ["255.255.255.255", "RESERVED"], ["192.0.2.7", "RESERVED"],
    ["198.18.0.1", "RESERVED"], ["198.51.100.1", "RESERVED"], ["203.0.113.9", "RESERVED"], ["192.0.0.8", "RESERVED"],
    ["2001:db8::1", "RESERVED"], ["::7f00:1", "RESERVED"], ["fec0::1", "RESERVED"], ["fc00::1", "ULA"],
    ["::ffff:7f00:1", "LOOPBACK"], ["::ffff:10.0.0.1", "PRIVATE"], ["64:ff9b::a9fe:a9fe", "LINK_LOCAL"],
    ["93.184.216.34", undefined], ["172.32.0.1", undefined], ["2606:2800:220:1::1", undefined],
    ["64:ff9b::5db8:d822", undefined], ["::ffff:93.184.216.34", undefined], ["::ffff:1", "RESERVED"],
    ["64:ff9b::1", "UNSPECIFIED"], ["64:ff9b::1:0", "UNSPECIFIED"], ["64:ff9b::1:2:3", "RESERVED"],
  ];
  for (const [address, expected] of cases) assert.equal(blockedReason(address), expected, address);
});

test("blockedReason() returns INVALID_ADDRESS for a non-IP string, even with allowPrivate", () => {
  assert.equal(blockedReason("example.com"), "INVALID_ADDRESS");
  assert.equal(blockedReason("[::1]", { allowPrivate: true }), "INVALID_ADDRESS");
});

test("blockedReason() judges an allowlisted IPv4 CIDR for its IPv4-mapped form too", () => {
  assert.equal(blockedReason("::ffff:10.1.0.9", { allowlist: ["10.1.0.0/16"] }), undefined);
});

test("checkWebhookTarget() refuses a name that resolves to 127.0.0.1", async () => {
  await assert.rejects(checkWebhookTarget("https://evil.example/", { resolver: resolverOf("127.0.0.1") }), {
    code: "LOOPBACK",
    message: /evil\.example resolves to 127\.0\.0\.1/,
  });
});

test("checkWebhookTarget() refuses a name with one public and one private address", async () => {
  const resolver = resolverOf("93.184.216.34", "192.168.0.10");
  await assert.rejects(checkWebhookTarget("https://mixed.example/", { resolver }), { code: "PRIVATE" });
});

test("checkWebhookTarget() accepts private answers with allowPrivate and public ones always", async () => {
  const url = await checkWebhookTarget("https://a.example/", { allowPrivate: true, resolver: resolverOf("127.0.0.1") });
  assert.equal(url.hostname, "a.example");
  assert.ok(await checkWebhookTarget("https://b.example/", { resolver: resolverOf("93.184.216.34", "2606:2800::1") }));
});

test("checkWebhookTarget() skips resolving an allowlisted host and an IP literal", async () => {
  const resolver: ResolverFunction = () => Promise.reject(new Error("must not resolve"));
  assert.ok(await checkWebhookTarget("http://Hooks.Internal/", { allowlist: ["hooks.internal"], resolver }));
  assert.ok(await checkWebhookTarget("http://93.184.216.34/", { resolver }));
});

test("checkWebhookTarget() reports a DNS failure or empty answer as UNRESOLVABLE", async () => {
  await assert.rejects(checkWebhookTarget("https://gone.example/", { resolver: failingResolver() }), (error) => {
    assert.ok(error instanceof SsrfError);
    assert.equal(error.code, "UNRESOLVABLE");
    assert.equal((error.cause as { code?: string }).code, "ENOTFOUND");
    return true;
  });
  await assert.rejects(checkWebhookTarget("https://empty.example/", { resolver: resolverOf() }), {
    code: "UNRESOLVABLE",
  });
});

test("checkWebhookTarget() still applies the syntactic checks first", async () => {
  await assert.rejects(checkWebhookTarget("ftp://example.com/x", { resolver: resolverOf("93.184.216.34") }), {
    code: "SCHEME",
  });
});

test("guardedLookup() refuses a name that resolves to 127.0.0.1", async () => {
  const { error } = await runLookup(guardedLookup({ resolver: resolverOf("127.0.0.1") }), "evil.example", true);
  assert.ok(error instanceof SsrfError);
  assert.equal(error.code, "LOOPBACK");
});

test("guardedLookup() refuses when any address is private, whatever family is asked for", async () => {
  const lookup = guardedLookup({ resolver: resolverOf("93.184.216.34", "fd12::1") });
  const { error } = await runLookup(lookup, "mixed.example", false, 4);
  assert.equal((error as SsrfError).code, "ULA");
});

test("guardedLookup() calls back with every address when all is true", async () => {
  const lookup = guardedLookup({ resolver: resolverOf("93.184.216.34", "2606:2800:220:1::1") });
  const result = await runLookup(lookup, "example.com", true);
  assert.deepEqual(result, {
    error: null,
    address: [{ address: "93.184.216.34", family: 4 }, { address: "2606:2800:220:1::1", family: 6 }],
    family: undefined,
  });
});

test("guardedLookup() calls back with the first address and its family when all is false", async () => {
  const lookup = guardedLookup({ resolver: resolverOf("2606:2800:220:1::1", "93.184.216.34") });
  assert.deepEqual(await runLookup(lookup, "example.com", false), {
    error: null,
    address: "2606:2800:220:1::1",
    family: 6,
  });
  assert.deepEqual(await runLookup(lookup, "example.com", false, 4), {
    error: null,
    address: "93.184.216.34",
    family: 4,
  });
});

test("guardedLookup() accepts private answers with allowPrivate or an allowlisted host", async () => {
  const open = guardedLookup({ allowPrivate: true, resolver: resolverOf("127.0.0.1") });
  assert.deepEqual(await runLookup(open, "evil.example", false), { error: null, address: "127.0.0.1", family: 4 });
  const listed = guardedLookup({ allowlist: ["hooks.internal"], resolver: resolverOf("10.0.0.7") });
  assert.equal((await runLookup(listed, "HOOKS.internal", false)).address, "10.0.0.7");
  const cidr = guardedLookup({ allowlist: ["10.0.0.0/24"], resolver: resolverOf("10.0.0.7") });
  assert.equal((await runLookup(cidr, "other.internal", true)).error, null);
});

test("guardedLookup() passes a resolver failure on unchanged", async () => {
  const { error } = await runLookup(guardedLookup({ resolver: failingResolver() }), "gone.example", false);
  assert.equal((error as { code?: string }).code, "ENOTFOUND");
});

test("guardedLookup() fits the lookup option of http.request", () => {
  const lookup: RequestOptions["lookup"] = guardedLookup({ resolver: resolverOf("93.184.216.34") });
  assert.equal(typeof lookup, "function");
});
