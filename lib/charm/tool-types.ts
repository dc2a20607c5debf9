// The values the hook tools take and answer with, as HookTools (tools.ts) types them.

/** A relation as `-r` takes it: `registration:7` (preferred) or the bare id 7. */
export type RelationRef = string | number;

/** The workload statuses a charm may set (`status-set` refuses any other). */
export const STATUS_NAMES = ['maintenance', 'blocked', 'waiting', 'active'] as const;
export type StatusName = (typeof STATUS_NAMES)[number];
export type LogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';
export type ConfigValue = string | number | boolean;

export interface StatusDetails {
  status: string;
  message: string;
  data: Record<string, unknown>;
}

export interface ApplicationStatusDetails extends StatusDetails {
  units: Record<string, StatusDetails>;
}

/** A port for open-port/close-port: 8080 (tcp), "8080/udp", "1000-2000/tcp", "icmp", or a range. */
export type PortSpec = number | string | { from: number; to: number; protocol?: 'tcp' | 'udp' };

export interface NetworkInfo {
  'bind-addresses': {
    'mac-address': string;
    'interface-name': string;
    addresses: { hostname: string; value: string; cidr: string }[];
  }[];
  'egress-subnets': string[];
  'ingress-addresses': string[];
}

export interface SecretMetadataOptions {
  label?: string;
  description?: string;
  /** A Go duration (`24h`) or an RFC 3339 time. */
  expire?: string;
  rotate?: 'never' | 'hourly' | 'daily' | 'weekly' | 'monthly' | 'quarterly' | 'yearly';
}

export interface SecretAddOptions extends SecretMetadataOptions {
  owner?: 'application' | 'unit';
}

export type SecretRef = { id: string; label?: string } | { label: string };

export interface SecretInfo {
  id: string;
  revision: number;
  label?: string;
  owner: string;
  description?: string;
  rotation?: string;
  expiry?: string;
  rotates?: string;
}

export type SecretRevokeTarget = { relation: RelationRef } | { app: string } | { unit: string };

export interface StorageDetails {
  kind: string;
  location: string;
}

export interface GoalState {
  units: Record<string, { status: string; since?: string }>;
  relations: Record<string, Record<string, { status: string; since?: string }>>;
}

export interface HookToolsOptions {
  /** Milliseconds clock for the is-leader cache (tests replace it). */
  now?: () => number;
  /** Called before every `status-set` runs, whichever method (or `run`) started it. */
  onStatusSet?: () => void;
}
