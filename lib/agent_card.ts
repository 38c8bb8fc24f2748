/**
 * What the agent says about itself: its card (the interfaces it speaks, its capabilities, the input
 * modes it takes), and the check that a message's parts are of a media type the card accepts. Pure.
 *
 * @module
 */

import { A2AError, ERROR_CODES } from "./errors.ts";
import type { AgentCard, AgentSkill, Part } from "./types.ts";

/** The card fields an agent's owner sets; the rest are derived. */
export type CardOptions = Partial<Pick<AgentCard, "name" | "description" | "version" | "provider" | "documentationUrl" | "defaultInputModes" | "defaultOutputModes">> & { skills?: AgentSkill[] };

/** What the agent takes by default: text, and JSON `data` parts. */
const DEFAULT_INPUT_MODES = ["text/plain", "application/json"];

/**
 * The agent card for an agent reachable at `baseUrl`.
 *
 * @param baseUrl E.g. `http://127.0.0.1:8001`.
 * @param options The owner's fields, and what the agent can do.
 * @returns The v1.0 card (JSON-RPC 1.0 first, then HTTP+JSON 1.0 and JSON-RPC 0.3 at the same URL).
 *
 * @example
 * ```ts
 * import { buildCard } from "./agent_card.ts";
 * const card = buildCard("http://127.0.0.1:8001", { card: { name: "demo" }, pushNotifications: true, extendedAgentCard: false });
 * console.log(card.supportedInterfaces[0].url); // "http://127.0.0.1:8001/"
 * ```
 */
export function buildCard(baseUrl: string, options: { card?: CardOptions; pushNotifications: boolean; extendedAgentCard: boolean }): AgentCard {
  const card = options.card ?? {};
  return {
    name: card.name ?? "a2a-push agent",
    description: card.description ?? "An A2A agent whose tasks outlive connections and restarts.",
    version: card.version ?? "0.1.0",
    supportedInterfaces: [
      { url: `${baseUrl}/`, protocolBinding: "JSONRPC", protocolVersion: "1.0" },
      { url: baseUrl, protocolBinding: "HTTP+JSON", protocolVersion: "1.0" },
      { url: `${baseUrl}/`, protocolBinding: "JSONRPC", protocolVersion: "0.3" },
    ],
    capabilities: { streaming: true, pushNotifications: options.pushNotifications, extendedAgentCard: options.extendedAgentCard },
    defaultInputModes: card.defaultInputModes ?? DEFAULT_INPUT_MODES,
    defaultOutputModes: card.defaultOutputModes ?? ["text/plain"],
    skills: card.skills ?? [],
    ...(card.provider ? { provider: card.provider } : {}),
    ...(card.documentationUrl ? { documentationUrl: card.documentationUrl } : {}),
  };
}

/**
 * Refuses a part whose `mediaType` neither the card's input modes nor any skill's accepts; parts
 * without a `mediaType` pass.
 *
 * @param parts The message's parts.
 * @param card The owner's card fields.
 * @throws {A2AError} -32005 ContentTypeNotSupported, naming the part and the accepted types.
 *
 * @example
 * ```ts
 * import { checkMediaTypes } from "./agent_card.ts";
 * checkMediaTypes([{ text: "hi", mediaType: "text/plain; charset=utf-8" }], {}); // accepted
 * ```
 */
export function checkMediaTypes(parts: Part[], card: CardOptions = {}): void {
  const accepted = [...(card.defaultInputModes ?? DEFAULT_INPUT_MODES), ...(card.skills ?? []).flatMap((skill) => skill.inputModes ?? [])];
  parts.forEach((part, index) => {
    if (part.mediaType === undefined || accepted.some((mode) => mediaTypeMatches(mode, part.mediaType!))) return;
    throw new A2AError(
      ERROR_CODES.CONTENT_TYPE_NOT_SUPPORTED,
      `Content type ${part.mediaType} of message.parts[${index}] is not accepted; this agent accepts ${accepted.join(", ")}`,
      { field: `message.parts[${index}].mediaType`, mediaType: part.mediaType, accepted: accepted.join(",") },
    );
  });
}

/** Whether `mediaType` falls under `mode` (exact, `type/` plus a star, or star/star); parameters are ignored. */
function mediaTypeMatches(mode: string, mediaType: string): boolean {
  const bare = (value: string) => value.split(";")[0]!.trim().toLowerCase();
  const [wantType, wantSub] = bare(mode).split("/");
  const [type, sub] = bare(mediaType).split("/");
  return (wantType === "*" || wantType === type) && (wantSub === "*" || wantSub === sub);
}

/**
 * `GetExtendedAgentCard`'s answer from the agent's `extendedCard` option.
 *
 * @param option The card, a function giving one (or undefined), or undefined.
 * @returns The extended card.
 * @throws {A2AError} -32004 when the card does not declare one; -32007 when it does but none is there.
 *
 * @example
 * ```ts
 * import { extendedCardOf } from "./agent_card.ts";
 * try { extendedCardOf(undefined); } catch (error) { console.log((error as { code: number }).code); } // -32004
 * ```
 */
export function extendedCardOf(option: AgentCard | (() => AgentCard | undefined) | undefined): AgentCard {
  if (option === undefined) throw new A2AError(ERROR_CODES.UNSUPPORTED_OPERATION, "This agent's card does not declare an extended agent card");
  const card = typeof option === "function" ? option() : option;
  if (!card) throw new A2AError(ERROR_CODES.EXTENDED_AGENT_CARD_NOT_CONFIGURED, "This agent has no extended agent card to give");
  return card;
}
