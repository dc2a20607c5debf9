import * as z from 'zod';

import { usableTunnelPorts } from '../tunnel-allowance.js';
import { Flag, Port } from './fields.js';

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
  /**
   * [NEW] This machine's tunnel port allowance at the storage (docs/datapath.md, "Tunnel ports"):
   * absent from an original API and for a machine that never asked; an unusable list reads as absent.
   */
  tunnel_ports: z
    .unknown()
    .transform((value) => usableTunnelPorts(value))
    .optional(),
});
export type StorageEndpoint = z.output<typeof StorageEndpoint>;

/** A list the original always sends; `null` or absence read as empty. */
const Lines = z
  .array(z.string())
  .nullish()
  .transform((value) => value ?? []);

/**
 * SOURCE-DESCRIPTOR: a source as the API serves it in check-in and restore responses. Read
 * tolerantly (docs/api.md): the original always sends every key below, but a client needs only
 * `storage` (the agent) and the settings the storage applies, so an absent key gets the
 * original's default and an unknown key is kept (legacy APIs put per-source rsync
 * `username`/`password` here).
 */
export const SourceDescriptor = z.looseObject({
  /** Informative only: the agent backs up the path of its own sources.d entry. */
  path: z.string().optional(),
  /** `null` keeps every snapshot. */
  retention: z.string().nullable().default(null),
  /** The original stores it as text; a number is read as its decimal text. */
  bwlimit: z
    .preprocess((value) => (typeof value === 'number' ? String(value) : value), z.string().nullable())
    .default(null),
  filter: Lines,
  exclude: Lines,
  shared_service: Flag.default(false),
  large_rotating_files: Flag.default(false),
  large_modifying_files: Flag.default(false),
  /** Any string an original API stored; the storage falls back to its default if unknown. */
  snapshot_mode: z.string().nullable().default(null),
  preserve_hard_links: Flag.default(false),
  /** The machine's storage; the agent skips a source without one. */
  storage: StorageEndpoint.nullable().default(null),
});
export type SourceDescriptor = z.output<typeof SourceDescriptor>;

export const SourceDescriptorMap = z.record(z.string(), SourceDescriptor);
