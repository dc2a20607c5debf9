import * as z from 'zod';

import { DisplayName, EpochSeconds, Flag, MachineUuid, MebiBytes, Port, SshPublicKey } from './fields.js';
import { SourceDescriptorMap } from './descriptor.js';
import { SourceSettingsMap } from './source.js';

/**
 * The seven `/v1` views (docs/api.md, "The seven views"): request and response bodies. Requests
 * drop unknown keys (docs/api.md, "Request rules": they are ignored). Responses are what our agent
 * and storage read, tolerantly: they require no more than the original API always sends, take its
 * nulls, and keep unknown keys, so our clients work against the original API as well as ours
 * (docs/api.md, "What our clients require of a reply"). Error messages are the texts the original
 * gives for each missing or mistyped part of a request.
 *
 * Each authenticating view also has a *login* schema: the little the API reads before deciding
 * authentication (docs/api.md, "Authentication"). Its only refusals are the absent containers and
 * keys the original answers with 400; anything else wrong with the credentials (a malformed UUID, a
 * secret that is not a string, a `storage` that is not an object, a malformed `auth`) makes them
 * unusable, which is 403 `Bad auth`. The full request schema is reported only once the caller is
 * authenticated.
 */

export const VIEWS = [
  'update_config',
  'agent_ping_checkin',
  'agent_ping_restore',
  'storage_update_config',
  'storage_ping_checkin',
  'storage_ping_source_update',
  'health',
] as const;
export type View = (typeof VIEWS)[number];

/** [NEW] Views only our API has (docs/api.md, "storage_verify_report"); an original API answers 404. */
export const NEW_VIEWS = ['storage_verify_report'] as const;
export type NewView = (typeof NEW_VIEWS)[number];
/** Every view our API serves and our clients call. */
export type AnyView = View | NewView;

/** The original's message for an absent key, or a plain type message for a present one. */
const missing =
  (absent: string, key: string) =>
  (issue: { input?: unknown }): string =>
    issue.input === undefined ? absent : `Invalid type for "${key}"`;

const machineOption = (key: string) => z.string({ error: missing(`Missing required machine option "${key}"`, key) });

const machineDict = <T extends z.core.$ZodLooseShape>(shape: T) =>
  z.object(shape, { error: '"machine" dict required' });

const requiredObject = <T extends z.core.$ZodLooseShape>(key: string, shape: T) =>
  z.object(shape, { error: missing(`Missing required option "${key}"`, key) });

/** A key that must be there (JSON null counts); its type is checked after authentication. */
const present = (message: string) => z.custom<unknown>((value) => value !== undefined, { error: message });

/** Nothing stored holds NUL (PostgreSQL cannot), so a credential with one matches nothing. */
const withoutNul = z.string().refine((value) => !value.includes('\0'));

/** A credential string, or undefined when it is absent or unusable (not a string, or with NUL). */
const credential = withoutNul.optional().catch(undefined);

/** The registration credential as a login reads it: a malformed one is no credential at all. */
const registrationAuth = z
  .union([z.object({ name: withoutNul, secret: z.string() }), z.string()])
  .optional()
  .catch(undefined);

/** `machine.uuid` and `machine.secret` as sent, present but not yet typed. */
export const MachineLogin = z.object({
  machine: machineDict({
    uuid: present('Missing required machine option "uuid"'),
    secret: present('Missing required machine option "secret"'),
  }),
});
export type MachineLogin = z.output<typeof MachineLogin>;

export const UpdateConfigLogin = MachineLogin.extend({ auth: registrationAuth });
export type UpdateConfigLogin = z.output<typeof UpdateConfigLogin>;

/** A `storage` that is present but not an object carries no credentials: 403, as the original. */
const storageLogin = z.preprocess(
  (value) =>
    value === undefined || (typeof value === 'object' && value !== null && !Array.isArray(value)) ? value : {},
  requiredObject('storage', { name: credential, secret: credential }),
);

export const StorageLogin = z.object({ storage: storageLogin });
export type StorageLogin = z.output<typeof StorageLogin>;

export const StorageUpdateConfigLogin = StorageLogin.extend({ auth: registrationAuth });
export type StorageUpdateConfigLogin = z.output<typeof StorageUpdateConfigLogin>;

// ---- update_config -------------------------------------------------------------------------

const machineCredentials = {
  uuid: machineOption('uuid').pipe(MachineUuid),
  secret: machineOption('secret'),
};

export const MachineRegistration = machineDict({
  ...machineCredentials,
  environment_name: DisplayName.nullable().optional(),
  service_name: DisplayName.nullable().optional(),
  unit_name: DisplayName.min(1).optional(),
  comment: DisplayName.nullable().optional(),
  ssh_public_key: SshPublicKey.optional(),
  /** Absent means true: only the admin's `active` can disable a machine against its will. */
  published: Flag.optional(),
  sources: SourceSettingsMap.optional(),
  /**
   * [NEW] The agent takes its tunnel port from an allowance (docs/datapath.md, "Tunnel ports"):
   * the API assigns one the first time, and keeps it. An original API ignores the key.
   */
  tunnel_allowance: Flag.optional(),
});

export const UpdateConfigRequest = z.object({
  auth: registrationAuth,
  machine: MachineRegistration,
});
export type UpdateConfigRequest = z.output<typeof UpdateConfigRequest>;

/** `update_config`, `storage_update_config` and `storage_ping_source_update` answer `{}`. */
export const EmptyResponse = z.looseObject({});
export type EmptyResponse = z.output<typeof EmptyResponse>;

// ---- agent_ping_checkin, agent_ping_restore ------------------------------------------------

export const MachineCredentials = machineDict(machineCredentials);

export const AgentPingCheckinRequest = z.object({
  machine: MachineCredentials,
});
export type AgentPingCheckinRequest = z.output<typeof AgentPingCheckinRequest>;

export const AgentPingRestoreRequest = AgentPingCheckinRequest;
export type AgentPingRestoreRequest = AgentPingCheckinRequest;

export { AgentPingCheckinResponse, AgentPingRestoreResponse } from './agent-ping.js';

// ---- storage_update_config -----------------------------------------------------------------

// A missing storage name or secret is a failed login (403), not a malformed request.
const storageShape = {
  name: z.string().min(1).max(200).optional(),
  secret: z.string().optional(),
  ssh_ping_host: z.string().min(1).optional(),
  ssh_ping_port: Port.optional(),
  ssh_ping_user: z.string().min(1).optional(),
  ssh_ping_host_keys: z.array(SshPublicKey).optional(),
  space_total: MebiBytes.optional(),
  space_available: MebiBytes.optional(),
  published: Flag.optional(),
  comment: z.string().max(200).nullable().optional(),
  /** [NEW] Modes this storage implements; an original API ignores the key. */
  snapshot_modes: z.array(z.string()).optional(),
  /** [NEW] Volumes over their high-water mark, in words (logged by the API); an original API ignores the key. */
  space_warnings: z.array(z.string().max(500)).max(64).optional(),
};

export const StorageUpdateConfigRequest = z.object({
  auth: registrationAuth,
  storage: requiredObject('storage', storageShape),
});
export type StorageUpdateConfigRequest = z.output<typeof StorageUpdateConfigRequest>;

/** A machine as its storage needs it to write the machine's authorized_keys line. */
export const StorageMachine = z.looseObject({
  environment_name: z.string().nullable().optional(),
  service_name: z.string().nullable().optional(),
  unit_name: z.string(),
  comment: z.string().nullable().optional(),
  ssh_public_key: z.string(),
  /**
   * [NEW] The machine's tunnel port allowance; absent for an original agent and from an original
   * API. Checked by the storage itself (a malformed list skips the machine, never widens it).
   */
  tunnel_ports: z.unknown().optional(),
});
export type StorageMachine = z.output<typeof StorageMachine>;

/** Keyed by canonical machine UUID. */
export const StorageUpdateConfigResponse = z.looseObject({
  machines: z.record(z.string(), StorageMachine),
});
export type StorageUpdateConfigResponse = z.output<typeof StorageUpdateConfigResponse>;

// ---- storage_ping_checkin, storage_ping_source_update --------------------------------------

const storageCredentials = { name: z.string().optional(), secret: z.string().optional() };
const machineUuid = z
  .string({
    error: missing('Missing required option "machine.uuid"', 'machine.uuid'),
  })
  .pipe(MachineUuid);

export const StoragePingCheckinRequest = z.object({
  storage: requiredObject('storage', storageCredentials),
  machine: requiredObject('machine', { uuid: machineUuid }),
});
export type StoragePingCheckinRequest = z.output<typeof StoragePingCheckinRequest>;

/** The storage knows the machine from its forced command, so even `uuid` is not required. */
export const StoragePingCheckinResponse = z.looseObject({
  machine: z.looseObject({
    uuid: z.string().optional(),
    environment_name: z.string().nullable().optional(),
    service_name: z.string().nullable().optional(),
    unit_name: z.string().nullable().optional(),
    scheduled_sources: SourceDescriptorMap,
  }),
});
export type StoragePingCheckinResponse = z.output<typeof StoragePingCheckinResponse>;

/** One source's outcome. `ok` means `success` is present and true. */
export const SourceResult = z.object({
  success: z.boolean().optional(),
  snapshot: z.string().max(200).nullable().optional(),
  summary: z.string().nullable().optional(),
  time_begin: EpochSeconds.optional(),
  time_end: EpochSeconds.optional(),
  /** [NEW] The source became due after the agent's check-in: log it, keep it due. */
  skipped: z.boolean().optional(),
});
export type SourceResult = z.output<typeof SourceResult>;

export const StoragePingSourceUpdateRequest = z.object({
  storage: requiredObject('storage', storageCredentials),
  machine: requiredObject('machine', {
    uuid: machineUuid,
    // Names are not re-validated: an imported database may hold names the original accepted,
    // and the storage reports those (as failures) under the name it was given.
    sources: z.record(z.string(), SourceResult, {
      error: missing('Missing required option "machine.sources"', 'machine.sources'),
    }),
  }),
});
export type StoragePingSourceUpdateRequest = z.output<typeof StoragePingSourceUpdateRequest>;

// ---- storage_verify_report [NEW] -----------------------------------------------------------

/** Bounds of a verify report: a few problems are enough to act on; the storage's log has them all. */
export const VERIFY_REPORT_LIMITS = { problems: 10, path: 1000, detail: 500 } as const;

export const VERIFY_PROBLEM_KINDS = [
  'content',
  'size',
  'metadata',
  'missing',
  'extra',
  'unreadable',
  'no-manifest',
  'borg',
] as const;

/** One problem as reported: where and what, never a file's contents. */
export const VerifyReportProblem = z.object({
  path: z.string().max(VERIFY_REPORT_LIMITS.path),
  kind: z.enum(VERIFY_PROBLEM_KINDS),
  detail: z.string().max(VERIFY_REPORT_LIMITS.detail),
});
export type VerifyReportProblem = z.output<typeof VerifyReportProblem>;

const Count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** A verify of one snapshot of one source of a machine this storage holds. */
export const StorageVerifyReportRequest = z.object({
  storage: requiredObject('storage', storageCredentials),
  machine: requiredObject('machine', { uuid: machineUuid }),
  verify: requiredObject('verify', {
    source: z.string().min(1).max(200),
    snapshot: z.string().min(1).max(200),
    checked_files: Count,
    checked_bytes: Count,
    /** False when only a sample was checked. */
    complete: z.boolean(),
    problem_count: Count,
    problems: z.array(VerifyReportProblem).max(VERIFY_REPORT_LIMITS.problems),
    /** When the verify ended, epoch seconds. */
    time_end: EpochSeconds.optional(),
  }).refine((verify) => verify.problems.length <= verify.problem_count, {
    message: 'Validation error: more problems listed than problem_count',
    path: ['problems'],
  }),
});
export type StorageVerifyReportRequest = z.output<typeof StorageVerifyReportRequest>;

export const StorageVerifyReportResponse = z.looseObject({});

// ---- health --------------------------------------------------------------------------------

export const HealthResponse = z.looseObject({
  healthy: z.boolean(),
  /** ISO 8601 with microseconds and a numeric offset, in the API's zone. */
  date: z.string(),
  counts: z.record(z.string(), z.number().int().nonnegative()),
});
export type HealthResponse = z.output<typeof HealthResponse>;
