// The charm's config and action parameters (charmcraft.yaml declares the same; a test checks they
// agree). zod/mini: this is loaded by every hook.
import * as z from 'zod/mini';

const URL_PATTERN = /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/;

export const LOG_LEVELS = ['debug', 'info', 'warning', 'error'] as const;

export const ApiCharmConfig = z.object({
  port: z.int().check(z.minimum(1, 'expected a port 1-65535'), z.maximum(65535, 'expected a port 1-65535')),
  'external-url': z
    .string()
    .check(
      z.refine(
        (value) => value === '' || URL_PATTERN.test(value),
        'expected an http(s) URL without query, such as https://turku.example.com/v1, or empty',
      ),
    ),
  'log-level': z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }),
  'metrics-per-source': z.boolean(),
});
export type ApiCharmConfig = z.output<typeof ApiCharmConfig>;

const NoParams = z.strictObject({});

export const ACTION_PARAMS = {
  'create-registration': z.strictObject({
    type: z.enum(['machine_reg', 'storage_reg']),
    name: z.optional(z.string().check(z.minLength(1, 'must not be empty'))),
  }),
  'list-machines': NoParams,
  'list-sources': z.strictObject({ machine: z.optional(z.string()) }),
  'list-storages': NoParams,
  'backup-now': z.strictObject({ machine: z.string(), source: z.string() }),
  reassign: z.strictObject({ machine: z.string(), storage: z.string() }),
  health: NoParams,
  'get-admin-credential': NoParams,
} as const;
