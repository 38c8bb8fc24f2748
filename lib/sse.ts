/**
 * Server-Sent Events, both ends: the lines a server writes, and a parser a client reads a `fetch`
 * body with. Only the `data` field matters to A2A; `event`, `id` and comments are passed or skipped.
 *
 * @module
 */

/**
 * One SSE event carrying JSON.
 *
 * @param value Any JSON-serialisable value.
 * @returns `data: <json>\n\n` (JSON has no raw newlines, so one `data` line is enough).
 *
 * @example
 * ```ts
 * import { formatSseData } from "./sse.ts";
 * console.log(formatSseData({ a: 1 })); // "data: {\"a\":1}\n\n"
 * ```
 */
export function formatSseData(value: unknown): string {
  return `data: ${JSON.stringify(value)}\n\n`;
}

/**
 * Reads SSE events from a byte stream and yields each event's `data` (lines joined with `\n`).
 * Comment lines (heartbeats) are skipped. Stops when the stream ends; a final event without its
 * blank line is dropped, as the SSE standard says.
 *
 * @param body A `fetch` response body.
 * @param options `maxEventBytes`: refuse an event longer than this, in characters (bytes for ASCII). @default 16 Mi
 * @returns The events' data strings.
 * @throws {RangeError} If an event is larger than `maxEventBytes`.
 *
 * @example
 * ```ts
 * import { readSseData } from "./sse.ts";
 * const body = new Response("data: 1\n\n: ping\n\ndata: 2\n\n").body!;
 * for await (const data of readSseData(body)) console.log(data); // "1", then "2"
 * ```
 */
export async function* readSseData(body: ReadableStream<Uint8Array>, options: { maxEventBytes?: number } = {}): AsyncGenerator<string> {
  const { maxEventBytes = 16 * 1024 * 1024 } = options;
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = "";
  let data: string[] = [];
  let eventSize = 0; // Characters of the event read so far: its lines, and the line not yet ended.
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (!done) buffer += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r\n|\r|\n/)) !== -1) {
        // A CR at the end of what has arrived may be the first half of a CRLF: wait for the rest.
        if (!done && newline === buffer.length - 1 && buffer[newline] === "\r") break;
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
        if (line === "") {
          if (data.length > 0) yield data.join("\n");
          data = [];
          eventSize = 0;
          continue;
        }
        eventSize += line.length;
        if (eventSize > maxEventBytes) throw new RangeError(`SSE event larger than ${maxEventBytes} characters`);
        if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
      }
      if (eventSize + buffer.length > maxEventBytes) throw new RangeError(`SSE event larger than ${maxEventBytes} characters`);
      if (done) return;
    }
  } finally {
    await reader.cancel().catch(() => undefined); // The body may already be closed; nothing to report.
  }
}
