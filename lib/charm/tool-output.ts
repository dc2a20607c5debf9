// The shapes of the hook tools' JSON output (unknown keys are ignored): each parser checks what a
// tool printed and says where it differs (ShapeError with a path).
import {
  type Parse,
  ShapeError,
  asArrayOf,
  asNumber,
  asRecord,
  asRecordOf,
  asString,
  kindOf,
  optional,
  pathOf,
  withDefault,
} from './json-shapes.js';
import {
  type ApplicationStatusDetails,
  type ConfigValue,
  type GoalState,
  type NetworkInfo,
  type SecretInfo,
  type StatusDetails,
  type StorageDetails,
} from './tool-types.js';

export function configValue(value: unknown, path: string): ConfigValue {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  throw new ShapeError(path, 'a string, number or boolean', kindOf(value));
}

/** status-get's `{status, message?, status-data?}`. */
export function statusDetails(value: unknown, path: string): StatusDetails {
  const record = asRecord(value, path);
  return {
    status: asString(record.status, pathOf(path, 'status')),
    message: optional(record.message, pathOf(path, 'message'), asString) ?? '',
    data: optional(record['status-data'], pathOf(path, 'status-data'), asRecord) ?? {},
  };
}

export function applicationStatus(value: unknown, path: string): ApplicationStatusDetails {
  const inner = pathOf(path, 'application-status');
  const record = asRecord(asRecord(value, path)['application-status'], inner);
  const units = optional(record.units, pathOf(inner, 'units'), (map, at) => asRecordOf(map, at, statusDetails));
  return { ...statusDetails(record, inner), units: units ?? {} };
}

/** secret-info-get prints `{<id>: {revision, owner, label?, ...}}`. */
export function secretInfoMap(value: unknown, path: string): Record<string, Omit<SecretInfo, 'id'>> {
  return asRecordOf(value, path, (entry, at) => {
    const record = asRecord(entry, at);
    const info: Omit<SecretInfo, 'id'> = {
      revision: asNumber(record.revision, pathOf(at, 'revision')),
      owner: asString(record.owner, pathOf(at, 'owner')),
    };
    for (const field of ['label', 'description', 'rotation', 'expiry', 'rotates'] as const) {
      const text = optional(record[field], pathOf(at, field), asString);
      if (text !== undefined) info[field] = text;
    }
    return info;
  });
}

export function storageDetails(value: unknown, path: string): StorageDetails {
  const record = asRecord(value, path);
  return {
    kind: asString(record.kind, pathOf(path, 'kind')),
    location: asString(record.location, pathOf(path, 'location')),
  };
}

/** network-get output; absent lists and names default to empty (older Juju omits some). */
export function networkInfo(value: unknown, path: string): NetworkInfo {
  const record = asRecord(value, path);
  const address = (item: unknown, at: string) => {
    const fields = asRecord(item, at);
    return {
      hostname: asString(fields.hostname, pathOf(at, 'hostname')),
      value: asString(fields.value, pathOf(at, 'value')),
      cidr: asString(fields.cidr, pathOf(at, 'cidr')),
    };
  };
  const binding = (item: unknown, at: string) => {
    const fields = asRecord(item, at);
    return {
      'mac-address': withDefault(fields['mac-address'], pathOf(at, 'mac-address'), asString, ''),
      'interface-name': withDefault(fields['interface-name'], pathOf(at, 'interface-name'), asString, ''),
      addresses: withDefault(fields.addresses, pathOf(at, 'addresses'), (list, p) => asArrayOf(list, p, address), []),
    };
  };
  const list = <T>(key: string, item: Parse<T>): T[] =>
    withDefault(record[key], pathOf(path, key), (items, at) => asArrayOf(items, at, item), []);
  return {
    'bind-addresses': list('bind-addresses', binding),
    'egress-subnets': list('egress-subnets', asString),
    'ingress-addresses': list('ingress-addresses', asString),
  };
}

export function goalState(value: unknown, path: string): GoalState {
  const record = asRecord(value, path);
  const entry = (item: unknown, at: string) => {
    const fields = asRecord(item, at);
    const since = optional(fields.since, pathOf(at, 'since'), asString);
    const status = asString(fields.status, pathOf(at, 'status'));
    return since === undefined ? { status } : { status, since };
  };
  const units = (map: unknown, at: string) => asRecordOf(map, at, entry);
  return {
    units: withDefault(record.units, pathOf(path, 'units'), units, {}),
    relations: withDefault(record.relations, pathOf(path, 'relations'), (map, at) => asRecordOf(map, at, units), {}),
  };
}
