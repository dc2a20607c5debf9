import * as z from 'zod';

import { Port } from './fields.js';

/**
 * A source as the API describes it to agents and storages (SOURCE-DESCRIPTOR). Apart from
 * source.ts, whose settings check the frequency and retention grammars: an agent's check-in
 * needs neither those parsers nor the calendar library they load.
 */

export const SNAPSHOT_MODES = ['link-dest', 'none', 'borg'] as const;
export type SnapshotMode = (typeof SNAPSHOT_MODES)[number];

/** Where and how an agent reaches its storage: pinned host keys, port and user. */
export const StorageEndpoint = z.looseObject({
  name: z.string(),
  ssh_ping_host: z.string(),
  ssh_ping_host_keys: z.array(z.string()),
  ssh_ping_port: Port,
  ssh_ping_user: z.string(),
});
export type StorageEndpoint = z.output<typeof StorageEndpoint>;

/**
 * SOURCE-DESCRIPTOR: a source as the API serves it in check-in and restore responses.
 * Clients keep unknown keys (legacy APIs put per-source rsync `username`/`password` here).
 */
export const SourceDescriptor = z.looseObject({
  path: z.string(),
  retention: z.string().nullable(),
  // Keys below were added over the original's history; older APIs may omit them.
  bwlimit: z.string().nullable().default(null),
  filter: z.array(z.string()).default([]),
  exclude: z.array(z.string()).default([]),
  shared_service: z.boolean().default(false),
  large_rotating_files: z.boolean().default(false),
  large_modifying_files: z.boolean().default(false),
  /** Any string an original API stored; the storage falls back to its default if unknown. */
  snapshot_mode: z.string().nullable().default(null),
  preserve_hard_links: z.boolean().default(false),
  storage: StorageEndpoint,
});
export type SourceDescriptor = z.output<typeof SourceDescriptor>;

export const SourceDescriptorMap = z.record(z.string(), SourceDescriptor);
