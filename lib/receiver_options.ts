/**
 * The options of a webhook receiver, in one place: what `WebhookReceiver.open` takes, with each
 * default. Types only.
 *
 * @module
 */

/** Options of `WebhookReceiver.open` (`receiver.ts`). */
export interface ReceiverOptions {
  /** Where the receiver's journal lives. */
  dataDir: string;
  /** The agent: GetTask goes here, and its JWKS is at `/.well-known/jwks.json`. */
  agentUrl: string;
  /** Standard Webhooks secrets (`whsec_...`); if set, `webhook-signature` is required. @default [] */
  secrets?: string[];
  /** Require the agent's ES256 JWT, checked against its JWKS. @default true */
  jwt?: boolean;
  /** The `aud` a JWT must name: this receiver's webhook URL(s). Required when `jwt`. @default undefined */
  audience?: string[];
  /**
   * Expected `X-A2A-Notification-Token`: what a push config's `token` makes agents send. Give it to
   * the agent in every push config to this receiver.
   * @default the one in `<dataDir>/notification_token`, made at first start, when `proof` is on and
   * `authorization` is not set
   */
  token?: string;
  /**
   * Expected whole `Authorization` value, e.g. `Bearer abc` (what a push config's `authentication`
   * makes agents send). Both this and the agent's JWT use that header: set `jwt: false` with it.
   * @default undefined
   */
  authorization?: string;
  /**
   * Require the proof that a push config was made for this receiver: `token` or `authorization`
   * (each one configured must match), besides the signatures. Off, a token is neither made nor
   * required, and any webhook the agent signs for this URL is accepted, including those of push
   * configs strangers made (a warning is logged at start). @default true
   */
  proof?: boolean;
  /**
   * The bearer token `GET /events` and `GET /tasks/<id>` require (`Authorization: Bearer ...`).
   * @default undefined: they answer only requests from loopback addresses
   */
  readToken?: string;
  /** Sent as `Authorization: Bearer ...` on GetTask calls to the agent (not on the public JWKS fetch). @default undefined */
  agentToken?: string;
  /** Largest body accepted. @default 1 MiB */
  maxBodyBytes?: number;
  /** One line per accepted, duplicate or refused webhook. @default console.log */
  log?: (line: string) => void;
  /** The fetch for GetTask and the JWKS. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** The clock, in ms. @default Date.now */
  now?: () => number;
  /**
   * Events (and fetched results) are remembered this long after they arrived, to recognise
   * redeliveries; an agent retries for about three days. @default 7 days
   */
  retentionMs?: number;
  /** Compact the journal once it holds 4 times the live records and at least this many. @default 10000 */
  compactionMinRecords?: number;
}
