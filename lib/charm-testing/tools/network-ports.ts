// open-port, close-port, opened-ports, unit-get, network-get (docs/charm-runtime.md, "Hook tools").
import { type ToolContext, appOfUnit, relationFlag, unitOf } from './context.js';
import { type FlagSpecs, checkEmpty, parseFlags, runtimeError, usageError } from './flags.js';
import { OUTPUT_FLAGS, chosenFormat, emit } from './output.js';

interface PortRange {
  from: number;
  to: number;
  protocol: 'tcp' | 'udp' | 'icmp';
}

const PORT_FORMAT = '<port>[/<protocol>] or <from>-<to>[/<protocol>] or icmp';
const PORT_SYNTAX = /^(\d+)(?:-(\d+))?(?:\/([a-z0-9]+))?$/;

/** Parses a port argument with Juju's validation messages; throws a message string. */
function parseRange(text: string): PortRange {
  const lower = text.toLowerCase();
  if (lower === 'icmp') return { from: 0, to: 0, protocol: 'icmp' };
  const match = PORT_SYNTAX.exec(lower);
  if (match === null) throw usageError(`expected ${PORT_FORMAT}; got ${JSON.stringify(text)}`);
  const from = Number(match[1]);
  const to = match[2] === undefined ? from : Number(match[2]);
  const protocol = match[3] ?? 'tcp';
  if (from > to) throw usageError(`invalid port range ${from}-${to}/${protocol}; expected fromPort <= toPort`);
  if (from === to && (from < 1 || from > 65535)) {
    throw usageError(`port must be in the range [1, 65535]; got "${from}"`);
  }
  if (from < 1 || from > 65535) throw usageError(`fromPort must be in the range [1, 65535]; got "${from}"`);
  if (to < 1 || to > 65535) throw usageError(`toPort must be in the range [1, 65535]; got "${to}"`);
  if (protocol !== 'tcp' && protocol !== 'udp') {
    throw usageError(`protocol must be "tcp", "udp", or "icmp"; got ${JSON.stringify(match[3])}`);
  }
  return { from, to, protocol };
}

/** A committed port entry, parsed leniently (entries were written by us or by tests). */
function heldRange(text: string): PortRange | undefined {
  try {
    return parseRange(text);
  } catch {
    return undefined;
  }
}

/** The canonical text Juju shows: `8080/tcp`, `1000-2000/udp`, `icmp`. */
function rangeText(range: PortRange): string {
  if (range.protocol === 'icmp') return 'icmp';
  return `${range.from === range.to ? range.from : `${range.from}-${range.to}`}/${range.protocol}`;
}

function overlaps(a: PortRange, b: PortRange): boolean {
  return a.protocol === b.protocol && a.from <= b.to && b.from <= a.to;
}

const PORT_FLAGS: FlagSpecs = {
  endpoints: { long: 'endpoints', kind: 'value' },
  format: { long: 'format', kind: 'value' },
};

function portArgument(ctx: ToolContext, tool: string, args: readonly string[]): PortRange {
  const parsed = parseFlags(args, PORT_FLAGS);
  const [text, ...rest] = parsed.positional;
  if (text === undefined) throw usageError('no port or range specified');
  const range = parseRange(text);
  checkEmpty(rest);
  if (parsed.values['format'] !== undefined) ctx.warnings.push(`--format flag deprecated for command "${tool}"`);
  return range;
}

export function openPort(ctx: ToolContext, args: readonly string[]): string {
  const range = portArgument(ctx, 'open-port', args);
  const unit = unitOf(ctx);
  for (const other of Object.values(ctx.model.units)) {
    if (other.machine !== unit.machine || other.name === unit.name) continue;
    for (const held of other.ports) {
      const heldByOther = heldRange(held);
      if (heldByOther !== undefined && overlaps(range, heldByOther)) {
        throw runtimeError(
          `cannot open ${rangeText(range)} (unit ${JSON.stringify(unit.name)}): port range conflicts with ${held} (unit ${JSON.stringify(other.name)})`,
        );
      }
    }
  }
  ctx.pending.openPort(rangeText(range));
  return '';
}

export function closePort(ctx: ToolContext, args: readonly string[]): string {
  ctx.pending.closePort(rangeText(portArgument(ctx, 'close-port', args)));
  return '';
}

export function openedPorts(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, { ...OUTPUT_FLAGS, endpoints: { long: 'endpoints', kind: 'bool' } });
  const format = chosenFormat(parsed);
  checkEmpty(parsed.positional);
  // Only committed ports: this hook's open-port calls are not visible yet
  // (docs/charm-runtime.md, "Hook tools").
  const ports = [...unitOf(ctx).ports];
  return emit(parsed, parsed.bools['endpoints'] === true ? ports.map((port) => `${port} (*)`) : ports, format);
}

function unitAddress(ctx: ToolContext): string {
  return ctx.model.machines[unitOf(ctx).machine]?.address ?? '10.0.0.1';
}

export function unitGet(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, OUTPUT_FLAGS);
  const format = chosenFormat(parsed);
  const [setting, ...rest] = parsed.positional;
  if (setting === undefined) throw usageError('no setting specified');
  if (setting !== 'private-address' && setting !== 'public-address') {
    throw usageError(`unknown setting ${JSON.stringify(setting)}`);
  }
  checkEmpty(rest);
  return emit(parsed, unitAddress(ctx), format);
}

/** A stable fake MAC per machine, in the LXD range. */
function macAddress(machine: string): string {
  let hash = 0;
  for (const char of machine) hash = (hash * 31 + char.charCodeAt(0)) & 0xffffff;
  const bytes = [hash >> 16, (hash >> 8) & 0xff, hash & 0xff].map((byte) => byte.toString(16).padStart(2, '0'));
  return `00:16:3e:${bytes.join(':')}`;
}

export function networkGet(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, {
    ...OUTPUT_FLAGS,
    relation: { short: 'r', long: 'relation', kind: 'value' },
    bindAddress: { long: 'bind-address', kind: 'bool' },
    ingressAddress: { long: 'ingress-address', kind: 'bool' },
    egressSubnets: { long: 'egress-subnets', kind: 'bool' },
    primaryAddress: { long: 'primary-address', kind: 'bool' },
  });
  const format = chosenFormat(parsed);
  const [binding, ...rest] = parsed.positional;
  if (binding === undefined) throw usageError('no arguments specified');
  checkEmpty(rest);
  relationFlag(ctx, parsed, false);
  const app = appOfUnit(ctx);
  if (binding !== 'juju-info' && app.charm.endpoints[binding] === undefined) {
    throw runtimeError(`no network config found for binding ${JSON.stringify(binding)}`);
  }
  const address = unitAddress(ctx);
  const cidr = `${address.split('.').slice(0, 3).join('.')}.0/24`;
  const egress = [`${address}/32`];
  const wanted: Record<string, unknown> = {};
  if (parsed.bools['bindAddress'] === true || parsed.bools['primaryAddress'] === true) wanted['bind-address'] = address;
  if (parsed.bools['ingressAddress'] === true) wanted['ingress-address'] = address;
  if (parsed.bools['egressSubnets'] === true) wanted['egress-subnets'] = egress;
  const keys = Object.keys(wanted);
  if (keys.length === 1) return emit(parsed, wanted[keys[0] as string], format);
  if (keys.length > 1) return emit(parsed, wanted, format);
  return emit(
    parsed,
    {
      'bind-addresses': [
        {
          'mac-address': macAddress(unitOf(ctx).machine),
          'interface-name': 'eth0',
          addresses: [{ hostname: '', value: address, cidr }],
        },
      ],
      'egress-subnets': egress,
      'ingress-addresses': [address],
    },
    format,
  );
}
