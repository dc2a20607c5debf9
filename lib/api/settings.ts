import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';

import * as z from 'zod';

import { ConfigFileError, parseConfigFile } from '../turku/config.js';
import { formatFirstIssue } from '../turku/protocol/issues.js';
import { resolveCalendar, WEEK_STARTS, type WeekStart } from '../turku/time.js';
import { DEFAULT_MAX_SOURCES_PER_MACHINE } from './request-limits.js';

/**
 * The API's settings file (`turku-api <command> --config FILE`, JSON or YAML). Every key is
 * documented in docs/api.md; unknown keys are an error, so a typo does not silently fall back
 * to a default.
 */

/**
 * 1 MiB: a thousand sources with their filters fit in a few hundred kilobytes, and parsing a body
 * this size takes milliseconds, so an unauthenticated client cannot make the API parse for long.
 */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * MiB for the memories of recent logins and accepted configurations (bounded-memo.ts): enough for
 * about 170,000 machines' logins and the last configurations of tens of thousands.
 */
export const DEFAULT_CACHE_MEMORY_MB = 64;

export const DEFAULT_SQLITE_PATH = '/var/lib/turku-api/turku-api.db';

const Listen = z.string().transform((value, ctx) => {
  const parsed = parseListen(value);
  if (parsed === undefined) {
    ctx.issues.push({ code: 'custom', message: `expected HOST:PORT, got "${value}"`, input: value });
    return z.NEVER;
  }
  return parsed;
});

const TimeZone = z.string().check((ctx) => {
  try {
    resolveCalendar({ timeZone: ctx.value });
  } catch {
    ctx.issues.push({ code: 'custom', message: `unknown time zone "${ctx.value}"`, input: ctx.value });
  }
});

const SettingsSchema = z.strictObject({
  listen: Listen.default(parseListen('0.0.0.0:8000')!),
  tls_cert: z.string().min(1).optional(),
  tls_key: z.string().min(1).optional(),
  database_url: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL')
    .optional(),
  database_path: z.string().min(1).default(DEFAULT_SQLITE_PATH),
  database_pool_size: z.number().int().min(1).max(1000).default(10),
  time_zone: TimeZone.default('UTC'),
  week_start: z.enum(WEEK_STARTS as [WeekStart, ...WeekStart[]]).default('sunday'),
  backoff_initial: z.number().positive().default(300),
  backoff_max: z.number().positive().default(21_600),
  max_body_bytes: z.number().int().min(1024).default(DEFAULT_MAX_BODY_BYTES),
  max_sources_per_machine: z.number().int().min(1).max(100_000).default(DEFAULT_MAX_SOURCES_PER_MACHINE),
  cache_memory_mb: z.number().min(0).max(65_536).default(DEFAULT_CACHE_MEMORY_MB),
  log_level: z.enum(['debug', 'info', 'warning', 'error']).default('info'),
  // docs/api.md, "Web console".
  console: z.boolean().default(true),
  console_session_hours: z
    .number()
    .positive()
    .max(24 * 30)
    .default(12),
  // docs/api.md, "Metrics".
  metrics_per_source: z.boolean().default(true),
  metrics_token: z.string().min(16).optional(),
});

export type ApiSettings = z.output<typeof SettingsSchema>;
export type LogLevel = ApiSettings['log_level'];

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export function parseListen(value: string): ListenAddress | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port > 65_535) return undefined;
  return { host: match[1] ?? (match[2] === '' ? '0.0.0.0' : match[2]!), port };
}

/** Settings from an already parsed mapping; throws ConfigFileError naming the bad key. */
export function parseSettings(raw: Record<string, unknown>, origin = 'settings'): ApiSettings {
  const result = SettingsSchema.safeParse(raw);
  if (!result.success) throw new ConfigFileError(`Error loading ${origin}: ${formatFirstIssue(result.error)}`);
  const settings = result.data;
  if ((settings.tls_cert === undefined) !== (settings.tls_key === undefined)) {
    throw new ConfigFileError(`Error loading ${origin}: tls_cert and tls_key must be set together`);
  }
  if (settings.backoff_max < settings.backoff_initial) {
    throw new ConfigFileError(`Error loading ${origin}: backoff_max must not be less than backoff_initial`);
  }
  return settings;
}

export async function loadSettings(file: string): Promise<ApiSettings> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const message = (error as { message?: unknown }).message;
    throw new ConfigFileError(`Error loading ${file}: ${typeof message === 'string' ? message : String(error)}`);
  }
  const format = extname(file) === '.json' ? 'json' : 'yaml';
  return parseSettings(parseConfigFile({ name: file, format, text }), file);
}
