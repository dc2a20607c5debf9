// What the agent and storage charms learn from the turku-api relation (the agent also from its
// config): the API's URL and the registration credential their workload registers with, or why
// not yet. Each charm reads its own bag and secret (turku-agent-api.ts, turku-storage-api.ts)
// into this one shape, and sets `waiting` or `blocked` with the message when it is not ready.

export interface ApiAccess {
  readonly url: string;
  readonly authName: string;
  readonly authSecret: string;
}

/** `Access` is ApiAccess plus where a charm got it (the agent: relation or config; the storage: which relation). */
export type ApiReadiness<Access extends ApiAccess = ApiAccess> =
  | { readonly kind: 'ready'; readonly access: Access }
  | { readonly kind: 'waiting' | 'blocked'; readonly message: string };
