// What every interface module shares: the read result, the read/write helpers over a plain bag,
// and the few field formats more than one interface uses. zod/mini only: charm bundles load this
// at every hook.
import * as z from 'zod/mini';

import { DatabagError } from '../charm/errors.js';
import { describeIssue, encodeDatabag, jsonField, type Schema } from '../charm/schemas.js';
import { hasControlCharacters, sshPublicKeyProblem } from '../turku/names.js';

/** A relation databag as `relation-get` returns it: strings only. */
export type Bag = Readonly<Record<string, string>>;

/** A read never throws on bad remote data: the charm decides whether that is waiting or blocked. */
export type ReadResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problems: string[] };

/**
 * Parses a bag with `schema` (a zod/mini object of the bag's keys). Keys the schema does not name
 * (Juju's `private-address`, `ingress-address`, `egress-subnets`, keys of newer versions) are
 * ignored. Each problem names its key: `api-url: required`, `ssh-host-keys: expected JSON text`.
 */
export function readBag<S extends Schema>(schema: S, bag: Bag): ReadResult<z.output<S>> {
  // parseDatabag's own parse, kept as a list of problems instead of one thrown message.
  const result = schema.safeParse(bag, { reportInput: true });
  if (result.success) return { ok: true, value: result.data as z.output<S> };
  return { ok: false, problems: result.error.issues.map(describeIssue) };
}

/** The bag for `relation-set` (JSON keys encoded); throws DatabagError naming the bad key. */
export function writeBag<S extends Schema>(schema: S, value: z.output<S>): Record<string, string> {
  return encodeDatabag(schema, value);
}

/** The value, or DatabagError listing the problems: for code where bad data must fail the hook. */
export function valueOf<T>(result: ReadResult<T>): T {
  if (result.ok) return result.value;
  throw new DatabagError(`invalid relation data: ${result.problems.join('; ')}`);
}

/** A string checked by one of lib/turku/names.ts's problem functions (one definition of each rule). */
export function checkedString(problem: (value: string) => string | undefined) {
  return z.string().check(
    z.superRefine((value, ctx) => {
      const found = problem(value);
      if (found !== undefined) ctx.addIssue({ code: 'custom', message: found, input: value });
    }),
  );
}

/** One line of text without control characters (names, hosts, users). */
export const Line = z.string().check(
  z.minLength(1, 'must not be empty'),
  z.refine((value) => !hasControlCharacters(value), 'must be one line without control characters'),
);

/**
 * The `/v1` base URL agents and storages post to (docs/api.md, "Request rules"), e.g.
 * `https://turku.example.com/v1`.
 */
export const ApiUrl = z
  .string()
  .check(
    z.refine((value) => /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/.test(value), 'expected an http(s) URL without query'),
  );

/**
 * A secret URI as `secret-add` prints it: `secret:<20 base32hex characters>`, or the cross-model
 * `secret://<model-uuid>/<id>`.
 */
export const SecretUri = z
  .string()
  .check(
    z.refine(
      (value) => /^secret:(\/\/[0-9a-f-]{36}\/)?[0-9a-v]{20}$/.test(value),
      'expected a secret URI (secret:<id>)',
    ),
  );

/** `<keytype> <base64> [comment]` on one line, as the API and known_hosts need it. */
export const SshPublicKey = checkedString(sshPublicKeyProblem);

/** A TCP port, JSON-encoded in the bag ("22"). */
export const PortField = jsonField(
  z.int().check(z.minimum(1, 'expected a port 1-65535'), z.maximum(65535, 'expected a port 1-65535')),
);

/** A whole number of MiB, JSON-encoded in the bag ("953869"). */
export const MebibytesField = jsonField(z.int().check(z.minimum(0, 'must not be negative')));
