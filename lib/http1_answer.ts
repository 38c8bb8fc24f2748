/**
 * Reading an HTTP/1.1 answer, with no I/O: the status line and header fields, and how the body is
 * framed (RFC 9112 section 6.3) so that it can be read away: by `Content-Length`, chunked (sizes,
 * extensions, trailer fields), or not at all (then only closing the connection ends it).
 *
 * @module
 */

/** Thrown (as the rejection) when a server breaks HTTP/1.1. */
export class HttpProtocolError extends Error {
  override name = "HttpProtocolError";
}

/** An HTTP token (RFC 9110 section 5.6.2): a field name, for one. */
export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [^\r\n]*)?$/;

/** Parses a status line and header fields (the bytes before the blank line). */
export function parseHead(head: string): { status: number; minor: number; headers: Map<string, string> } {
  const lines = head.split("\r\n");
  const match = STATUS_LINE.exec(lines[0]!);
  if (!match) throw new HttpProtocolError(`not an HTTP/1.x status line: ${JSON.stringify(lines[0]!.slice(0, 80))}`);
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    if (colon <= 0 || !TOKEN.test(name)) throw new HttpProtocolError(`not a header field: ${JSON.stringify(line.slice(0, 80))}`);
    const key = name.toLowerCase();
    const value = line.slice(colon + 1).trim();
    const seen = headers.get(key);
    headers.set(key, seen === undefined ? value : `${seen}, ${value}`);
  }
  return { status: Number(match[2]), minor: Number(match[1]), headers };
}

/**
 * Reads an answer's body away: `length` bytes, or chunked (RFC 9112 section 7.1: size lines,
 * data, trailer fields); `line` holds a size or trailer line while it is incomplete.
 */
export interface BodyReader {
  state: "length" | "size" | "data" | "data-end" | "trailer" | "done";
  left: number;
  line: string;
  discarded: number;
}

const MAX_LINE = 1024;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,8})(?:[ \t]*;.*)?$/;

/** How the body is framed: a reader, or undefined when only the connection's end frames it. */
export function bodyFraming(status: number, headers: Map<string, string>, minor: number): BodyReader | undefined {
  const reader = (state: BodyReader["state"], left = 0): BodyReader => ({ state, left, line: "", discarded: 0 });
  if (minor === 0 && !/\bkeep-alive\b/i.test(headers.get("connection") ?? "")) return undefined;
  if (status === 204 || status === 304) return reader("done");
  const coding = headers.get("transfer-encoding");
  if (coding !== undefined) return /(?:^|,)\s*chunked\s*$/i.test(coding) ? reader("size") : undefined;
  const field = headers.get("content-length");
  if (field === undefined) return undefined;
  const values = new Set(field.split(",").map((v) => v.trim()));
  const [value] = values;
  if (values.size !== 1 || !/^\d{1,15}$/.test(value!)) return undefined;
  return Number(value) === 0 ? reader("done") : reader("length", Number(value));
}

/** Feeds bytes to a body reader; an error means the body is malformed, or bytes follow its end. */
export function readBody(body: BodyReader, bytes: Buffer): HttpProtocolError | undefined {
  let at = 0;
  while (at < bytes.length) {
    switch (body.state) {
      case "done":
        return new HttpProtocolError("the server sent bytes after the answer's end");
      case "length":
      case "data": {
        const take = Math.min(body.left, bytes.length - at);
        body.left -= take;
        body.discarded += take;
        at += take;
        if (body.left === 0) body.state = body.state === "length" ? "done" : "data-end";
        break;
      }
      default: {
        // A line: a chunk size, the CRLF after a chunk's data, or a trailer field.
        const newline = bytes.indexOf(10, at);
        const end = newline === -1 ? bytes.length : newline;
        body.line += bytes.toString("latin1", at, end);
        body.discarded += end - at + 1;
        at = end + 1;
        if (body.line.length > MAX_LINE) return new HttpProtocolError("a chunked body line is too long");
        if (newline === -1) break;
        if (!body.line.endsWith("\r")) return new HttpProtocolError("a chunked body line does not end with CRLF");
        const line = body.line.slice(0, -1);
        body.line = "";
        if (body.state === "data-end") {
          if (line !== "") return new HttpProtocolError("a chunk's data is longer than its size");
          body.state = "size";
        } else if (body.state === "size") {
          const match = CHUNK_SIZE.exec(line);
          if (!match) return new HttpProtocolError(`not a chunk size: ${JSON.stringify(line.slice(0, 40))}`);
          body.left = parseInt(match[1]!, 16);
          body.state = body.left === 0 ? "trailer" : "data";
        } else if (line === "") {
          body.state = "done";
        }
      }
    }
  }
  return undefined;
}
