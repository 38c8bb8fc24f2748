/**
 * The few error classes of a2a-push. Each carries a `code` a caller can switch on: the JSON-RPC
 * error number for protocol errors, a short reason string for everything else. Servers map them to
 * responses in one place (`server.ts`); nothing else turns errors into HTTP.
 *
 * @module
 */

/** JSON-RPC and A2A error codes, as the A2A v1.0 specification numbers them. */
export const ERROR_CODES = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  TASK_NOT_FOUND: -32001,
  TASK_NOT_CANCELABLE: -32002,
  PUSH_NOTIFICATION_NOT_SUPPORTED: -32003,
  UNSUPPORTED_OPERATION: -32004,
  CONTENT_TYPE_NOT_SUPPORTED: -32005,
  INVALID_AGENT_RESPONSE: -32006,
  EXTENDED_AGENT_CARD_NOT_CONFIGURED: -32007,
  EXTENSION_SUPPORT_REQUIRED: -32008,
  VERSION_NOT_SUPPORTED: -32009,
  /**
   * A quota of this agent (push configs per task, open tasks or streams per caller) is used up.
   * Not an A2A code: one from JSON-RPC's implementation-defined range, clear of A2A's own; the
   * HTTP+JSON binding answers 429 `RESOURCE_EXHAUSTED`, as gRPC would.
   */
  RESOURCE_EXHAUSTED: -32050,
} as const;

/** One of the numbers in {@linkcode ERROR_CODES}. */
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** The `reason` of the google.rpc.ErrorInfo that A2A puts in `error.data`, per code. */
const REASONS: Record<number, string> = {
  [-32700]: "PARSE_ERROR",
  [-32600]: "INVALID_REQUEST",
  [-32601]: "METHOD_NOT_FOUND",
  [-32602]: "INVALID_PARAMS",
  [-32603]: "INTERNAL_ERROR",
  [-32001]: "TASK_NOT_FOUND",
  [-32002]: "TASK_NOT_CANCELABLE",
  [-32003]: "PUSH_NOTIFICATION_NOT_SUPPORTED",
  [-32004]: "UNSUPPORTED_OPERATION",
  [-32005]: "CONTENT_TYPE_NOT_SUPPORTED",
  [-32006]: "INVALID_AGENT_RESPONSE",
  [-32007]: "EXTENDED_AGENT_CARD_NOT_CONFIGURED",
  [-32008]: "EXTENSION_SUPPORT_REQUIRED",
  [-32009]: "VERSION_NOT_SUPPORTED",
  [-32050]: "RESOURCE_EXHAUSTED",
};

/** One wrong field of a request, as `google.rpc.BadRequest.FieldViolation`. */
export interface FieldViolation {
  /** The dotted path, e.g. `message.parts[0]`. */
  field: string;
  /** What is wrong with it. */
  description: string;
}

/**
 * An error the A2A protocol defines: it travels to the client as a JSON-RPC error object.
 *
 * @example Refuse an unknown task
 * ```ts
 * import { A2AError, ERROR_CODES } from "./errors.ts";
 * const error = new A2AError(ERROR_CODES.TASK_NOT_FOUND, "Task t1 was not found", { taskId: "t1" });
 * console.log(error.toJsonRpc().code); // -32001
 * ```
 */
export class A2AError extends Error {
  override name = "A2AError";
  /** The JSON-RPC error number. */
  readonly code: ErrorCode;
  /** Details for the client (field names, ids); never secrets. */
  readonly details: Record<string, string> | undefined;
  /** The fields a request got wrong, sent as a `google.rpc.BadRequest` (A2A v1.0.1 §9.5). */
  readonly fieldViolations: FieldViolation[] | undefined;

  /**
   * @param code The JSON-RPC error number.
   * @param message A sentence for a human, naming the offending field or id.
   * @param details Extra key/values for `ErrorInfo.metadata`.
   * @param options `cause`, kept for logs, never sent; `fieldViolations`, sent.
   */
  constructor(code: ErrorCode, message: string, details?: Record<string, string>, options?: ErrorOptions & { fieldViolations?: FieldViolation[] }) {
    super(message, options);
    this.code = code;
    this.details = details;
    this.fieldViolations = options?.fieldViolations;
  }

  /**
   * The error as a JSON-RPC `error` member: the A2A `ErrorInfo` in `data`, then a
   * `google.rpc.BadRequest` when fields were wrong.
   *
   * @returns `{code, message, data}`.
   */
  toJsonRpc(): { code: number; message: string; data: unknown[] } {
    const info: Record<string, unknown> = {
      "@type": "type.googleapis.com/google.rpc.ErrorInfo",
      reason: REASONS[this.code] ?? "UNKNOWN",
      domain: "a2a-protocol.org",
    };
    if (this.details) info.metadata = this.details;
    const data: unknown[] = [info];
    if (this.fieldViolations?.length) data.push({ "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: this.fieldViolations });
    return { code: this.code, message: this.message, data };
  }
}

/**
 * Shorthand for the commonest protocol error: a parameter that is missing or of the wrong shape.
 *
 * @param field The dotted path of the offending field, e.g. `message.parts[0]`.
 * @param problem What is wrong with it, e.g. `must be a non-empty array`.
 * @returns An {@linkcode A2AError} with code -32602 naming the field.
 */
export function invalidParams(field: string, problem: string): A2AError {
  return new A2AError(ERROR_CODES.INVALID_PARAMS, `Invalid params: ${field} ${problem}`, { field }, { fieldViolations: [{ field, description: problem }] });
}

/**
 * The answer for a task that does not exist, or that the caller may not see (A2A §3.3.2 says both
 * look the same).
 *
 * @param taskId The id asked for.
 * @returns An {@linkcode A2AError} with code -32001.
 */
export function taskNotFound(taskId: string): A2AError {
  return new A2AError(ERROR_CODES.TASK_NOT_FOUND, `Task ${taskId} was not found`, { taskId });
}

/**
 * The journal could not be read or written. `code` says why: `CORRUPT` (a damaged record in the
 * middle of the file), `LOCKED` (another process holds the data directory), `IO` (the file system
 * refused a read or write), `READ_ONLY` (the data directory cannot be written), `CLOSED`, `UNSAFE`
 * (a data directory others can write, or a journal that is a symbolic link).
 */
export class JournalError extends Error {
  override name = "JournalError";
  /** Why the journal failed. */
  readonly code: "CORRUPT" | "LOCKED" | "IO" | "READ_ONLY" | "CLOSED" | "UNSAFE";

  /**
   * @param code Why the journal failed.
   * @param message A sentence naming the file (and line, for `CORRUPT`).
   * @param options `cause`: the underlying file-system error, if any.
   */
  constructor(code: JournalError["code"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * A webhook URL was refused by the SSRF guard. `code` is the reason, e.g. `LOOPBACK`, `PRIVATE`,
 * `LINK_LOCAL`, `SCHEME`; the message names the host and the range it falls in.
 */
export class SsrfError extends Error {
  override name = "SsrfError";
  /** Why the target was refused. */
  readonly code: string;

  /**
   * @param code The reason, in CONSTANT_CASE.
   * @param message A sentence naming the URL or address and why it is refused.
   */
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * A received webhook failed verification. `code` is the reason a receiver reports: one of
 * `MISSING_HEADERS`, `MALFORMED`, `BAD_SIGNATURE`, `STALE_TIMESTAMP`, `UNKNOWN_KEY`,
 * `WRONG_AUDIENCE`, `WRONG_ISSUER`, `EXPIRED`, `BODY_HASH_MISMATCH`, `ID_MISMATCH`, `BAD_TOKEN`,
 * `NO_VERIFIER`.
 */
export class WebhookVerificationError extends Error {
  override name = "WebhookVerificationError";
  /** Why the webhook was refused. */
  readonly code: string;

  /**
   * @param code The reason, in CONSTANT_CASE.
   * @param message A sentence for the log and the 401 body.
   * @param options `cause`, if any.
   */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * A bearer token was not accepted. `code` says which answer the server owes: `invalid_token` for
 * anything wrong with the token (malformed, an alg other than RS256/ES256, a bad signature, an
 * unknown key, wrong `iss` or `aud`, expired, no `sub`), which is HTTP 401; `unavailable` when the
 * issuer's keys could not be fetched, so the token could not be checked at all, which is HTTP 503.
 * The message says why and never holds the token.
 *
 * @example Tell the two answers apart
 * ```ts
 * import { AuthenticationError } from "./errors.ts";
 * const error = new AuthenticationError("invalid_token", "Token refused: it expired at 1700000000");
 * console.log(error.code === "invalid_token" ? 401 : 503); // 401
 * ```
 */
export class AuthenticationError extends Error {
  override name = "AuthenticationError";
  /** `invalid_token` (answer 401) or `unavailable` (answer 503). */
  readonly code: "invalid_token" | "unavailable";

  /**
   * @param code `invalid_token` or `unavailable`.
   * @param message A sentence for the log and the response; never the token.
   * @param options `cause`, if any (for `unavailable`, the fetch error).
   */
  constructor(code: AuthenticationError["code"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}
