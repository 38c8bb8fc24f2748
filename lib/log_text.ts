/**
 * Text from outside (a push config's URL, a receiver's answer, a JWT header) made safe to log: a
 * control character, a line or paragraph separator, or a bidirectional override could otherwise
 * forge log lines or rewrite a terminal. Pure.
 *
 * @module
 */

/** C0 and C1 controls, DEL, line/paragraph separators and bidi embeddings, overrides and isolates. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * Escapes every character that could end a log line or drive a terminal, as `\n`, `\r`, `\t` or
 * `\u{…}`; everything else is kept as it is.
 *
 * @param text A line that may hold text from clients or receivers.
 * @returns The same line, one line, with those characters escaped.
 *
 * @example
 * ```ts
 * import { escapeLogText } from "./log_text.ts";
 * console.log(escapeLogText("http://x/\nFORGED accepted")); // http://x/\nFORGED accepted, on one line
 * ```
 */
export function escapeLogText(text: string): string {
  return text.replace(UNSAFE, (char) => {
    if (char === "\n") return "\\n";
    if (char === "\r") return "\\r";
    if (char === "\t") return "\\t";
    return `\\u{${char.charCodeAt(0).toString(16)}}`;
  });
}
