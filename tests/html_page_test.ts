/**
 * The pages served to browsers: the policy `loadPage()` makes allows each page's own inline script
 * and style (by hash) and nothing else, and `sendPage()` sends it with the headers that keep the
 * page from being framed, sniffed, cached or leaking its address.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { test } from "node:test";
import { loadPage, sendPage } from "../lib/html_page.ts";

test("loadPage() allows exactly the page's inline script and style by their SHA-256, and no other source", () => {
  for (const name of ["receiver_page.html", "outbox_console.html"]) {
    const page = loadPage(name);
    const script = /<script>([\s\S]*?)<\/script>/.exec(page.html)![1]!;
    const style = /<style>([\s\S]*?)<\/style>/.exec(page.html)![1]!;
    const hash = (text: string) => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
    const directives = new Map(page.csp.split("; ").map((d) => [d.split(" ")[0], d.split(" ").slice(1).join(" ")]));
    assert.equal(directives.get("default-src"), "'none'", name);
    assert.equal(directives.get("script-src"), hash(script), name);
    assert.equal(directives.get("style-src"), hash(style), name);
    assert.equal(directives.get("connect-src"), "'self'", name);
    assert.equal(directives.get("frame-ancestors"), "'none'", name);
    assert.doesNotMatch(page.html, /<script[^>]+src=|innerHTML|insertAdjacentHTML|document\.write|eval\(/, `${name}: no outside script, no text parsed as markup`);
    assert.doesNotMatch(script, /\?\.|\?\?|replaceAll/, `${name}: no syntax newer than 2020's browsers read`);
  }
  assert.throws(() => loadPage("no_such_page.html"), /ENOENT/);
});

test("sendPage() sends the page with its policy, and neither cached, sniffed, framed nor referred", async () => {
  const page = loadPage("receiver_page.html");
  const server = createServer((_req, res) => sendPage(res, page));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const response = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
    assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(response.headers.get("content-security-policy"), page.csp);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.equal(response.headers.get("referrer-policy"), "no-referrer");
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.equal(await response.text(), page.html);
  } finally {
    server.close();
  }
});
