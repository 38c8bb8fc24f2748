/**
 * The pages a2a-push serves to browsers (the receiver's live page, the agent's outbox console):
 * each is one HTML file in this directory with its script and style inline, read once and answered
 * with a Content-Security-Policy that allows exactly that script and that style (by their SHA-256)
 * and no other source, so text from outside that a page shows (URLs, errors, task text) can never
 * run even if a bug put it into the markup. It leaves out what a page shows: that is the page's
 * own script, reading the JSON routes.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";

/** A page ready to send. */
export interface HtmlPage {
  /** The file's text. */
  readonly html: string;
  /** The Content-Security-Policy it is sent with. */
  readonly csp: string;
}

/**
 * Reads a page that sits beside this module and makes its policy: its inline `<script>` and
 * `<style>` are allowed by hash, requests go to its own origin only.
 *
 * @param name The file's name in `lib/`, e.g. `receiver_page.html`.
 * @returns The page.
 * @throws {Error} If the file cannot be read.
 *
 * @example The receiver page's policy
 * ```ts
 * import { loadPage } from "./html_page.ts";
 * console.log(loadPage("receiver_page.html").csp.startsWith("default-src 'none'")); // true
 * ```
 */
export function loadPage(name: string): HtmlPage {
  const html = readFileSync(new URL(`./${name}`, import.meta.url), "utf8");
  const hashes = (tag: string) => [...html.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g"))].map(([, body]) => `'sha256-${createHash("sha256").update(body!).digest("base64")}'`).join(" ");
  const csp = [
    "default-src 'none'",
    `script-src ${hashes("script") || "'none'"}`,
    `style-src ${hashes("style") || "'none'"}`,
    "connect-src 'self'",
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
  return { html, csp };
}

/**
 * Answers with a page: its policy, not cached, not framed, sent with no `Referer` onwards.
 *
 * @param res The response.
 * @param page The page.
 *
 * @example Serve a page
 * ```ts
 * import { createServer } from "node:http";
 * import { loadPage, sendPage } from "./html_page.ts";
 * const page = loadPage("receiver_page.html");
 * createServer((_req, res) => sendPage(res, page)).listen(0, "127.0.0.1").close();
 * ```
 */
export function sendPage(res: ServerResponse, page: HtmlPage): void {
  res.writeHead(200, {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Length": Buffer.byteLength(page.html),
    "Content-Security-Policy": page.csp,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
  });
  res.end(page.html);
}
