// The charm's config and action parameters (zod/mini: parsed in every hook). charmcraft.yaml
// declares the same; schemas.test.ts checks the two agree.
import * as z from 'zod/mini';

import { ApiUrl } from '../../../lib/charm-interfaces/fields.js';
import { hasControlCharacters } from '../../../lib/turku/names.js';

/** "" (not set) or an http(s) URL: a bad one is blocked naming `api-url` before anything runs. */
const OptionalApiUrl = z
  .string()
  .check(
    z.refine(
      (value) => value === '' || ApiUrl.safeParse(value).success,
      'expected an http(s) URL without query, e.g. https://turku.example.com/v1',
    ),
  );

/** One line: it lands in a JSON config file and in the API, never in a shell. */
const OneLine = z.string().check(z.refine((value) => !hasControlCharacters(value), 'must be one line'));

export const configSchema = z.object({
  'api-url': z._default(OptionalApiUrl, ''),
  'registration-name': z._default(OneLine, ''),
  'registration-secret': z._default(OneLine, ''),
  'environment-name': z._default(OneLine, ''),
});
export type AgentCharmConfig = z.output<typeof configSchema>;

const AbsolutePath = z
  .string()
  .check(
    z.refine(
      (value) => value.startsWith('/') && !value.split('/').includes('..'),
      'must be an absolute path without ".."',
    ),
  );

export const restoreParams = z.object({
  source: z.string().check(z.minLength(1, 'must not be empty')),
  /** Absent: latest, unless as-of is given. */
  snapshot: z.optional(z.string().check(z.minLength(1, 'must not be empty'))),
  'as-of': z.optional(z.string().check(z.minLength(1, 'must not be empty'))),
  path: z.optional(z.string().check(z.minLength(1, 'must not be empty'))),
  target: z.optional(AbsolutePath),
  merge: z._default(z.boolean(), false),
  verify: z._default(z.boolean(), false),
});

export const restoreSessionParams = z.object({
  timeout: z._default(z.int().check(z.minimum(60), z.maximum(86_400)), 3600),
  merge: z._default(z.boolean(), false),
});

export const listSourcesParams = z.object({});

/** The query actions' common parameters: the source, and the storage when the machine has several. */
const querySource = {
  source: z.string().check(z.minLength(1, 'must not be empty')),
  storage: z.optional(z.string().check(z.minLength(1, 'must not be empty'))),
};
const queryLimit = z._default(z.int().check(z.minimum(1), z.maximum(10_000)), 1000);

export const listSnapshotsParams = z.object({ ...querySource });

export const listFilesParams = z.object({
  ...querySource,
  snapshot: z._default(z.string().check(z.minLength(1, 'must not be empty')), 'latest'),
  path: z._default(z.string(), ''),
  limit: queryLimit,
});

export const findParams = z.object({
  ...querySource,
  pattern: z.string().check(z.minLength(1, 'must not be empty'), z.maxLength(256)),
  limit: queryLimit,
});
