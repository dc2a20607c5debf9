import { hasControlCharacters, sshPublicKeyProblem } from '../turku/names.js';
import type { StorageMachine } from '../turku/protocol/api.js';
import { tunnelPortsProblem } from '../turku/tunnel-allowance.js';
import { canonicalUuid } from '../turku/uuid.js';
import { gatedCommand, type SessionGate } from './session-gate.js';

/**
 * The ping user's authorized_keys (docs/datapath.md): one line per machine assigned to this
 * storage, each forced to run `turku-storage-ping <uuid>` and allowed only a loopback reverse
 * tunnel: on the machine's own tunnel ports when the API gives it an allowance (our agents),
 * else on any loopback port (original agents), or no line at all where the operator allows no
 * original agents. With a session gate (session-gate.ts), the forced command first takes one of
 * the storage's session places. Pure: the caller reads the `.static` file and writes the result.
 */

export interface AuthorizedKeysInput {
  readonly file: string;
  readonly command: string;
  readonly options: string;
  /** Contents of `<file>.static`, if present. */
  readonly staticText?: string;
  readonly machines: Readonly<Record<string, StorageMachine>>;
  /**
   * Whether a machine without an allowance gets the configured `options` (default true); false
   * leaves it out (`original_agent_tunnels` in the storage settings).
   */
  readonly originalAgentTunnels?: boolean;
  /** The session gate in front of `command`; unset: the command runs at once. */
  readonly gate?: SessionGate;
}

export interface AuthorizedKeys {
  readonly text: string;
  /** Machines left out because something is wrong, with why (logged by the caller as errors). */
  readonly skipped: readonly string[];
  /** Machines left out by the operator's choice, with why (logged as warnings). */
  readonly withheld: readonly string[];
}

export function buildAuthorizedKeys(input: AuthorizedKeysInput): AuthorizedKeys {
  if (input.command.includes('"') || hasControlCharacters(input.command)) {
    throw new Error('authorized_keys_command must not contain double quotes or control characters');
  }
  const lines = [
    '# Automatically generated, please do not edit',
    `# Local additions may be placed in ${input.file}.static`,
  ];
  if (input.staticText !== undefined && input.staticText !== '') {
    lines.push(input.staticText.endsWith('\n') ? input.staticText.slice(0, -1) : input.staticText);
  }
  const skipped: string[] = [];
  const withheld: string[] = [];
  for (const uuid of Object.keys(input.machines).sort()) {
    const machine = input.machines[uuid]!;
    // A newline in either field would otherwise add an unrestricted key line.
    if (canonicalUuid(uuid) !== uuid) {
      skipped.push(`Skipping machine "${printable(uuid)}": not a canonical UUID`);
      continue;
    }
    const keyProblem = sshPublicKeyProblem(machine.ssh_public_key);
    if (keyProblem !== undefined) {
      skipped.push(`Skipping machine ${uuid}: its SSH public key ${keyProblem}`);
      continue;
    }
    const ports = machine.tunnel_ports ?? undefined;
    let options = input.options;
    if (ports !== undefined) {
      const problem = tunnelPortsProblem(ports);
      if (problem !== undefined) {
        skipped.push(`Skipping machine ${uuid}: its tunnel port allowance from the API ${problem}`);
        continue;
      }
      options = withListenPorts(input.options, ports as number[]);
    } else if (input.originalAgentTunnels === false) {
      withheld.push(
        `Leaving out machine ${uuid} (${printable(machine.unit_name)}): it has no tunnel port allowance ` +
          '(an original agent, or an API that assigns none) and original_agent_tunnels is false',
      );
      continue;
    }
    const prefix = options === '' ? '' : `${options},`;
    const command = forcedCommand(input, uuid);
    lines.push(`${prefix}command="${command}" ${machine.ssh_public_key} (${printable(machine.unit_name)})`);
  }
  return { text: `${lines.join('\n')}\n`, skipped, withheld };
}

/** The command="" option's value: sshd reads `\"` in it as `"`, and only that escape. */
function forcedCommand(input: AuthorizedKeysInput, uuid: string): string {
  const command = `${input.command} ${uuid}`;
  return input.gate === undefined ? command : gatedCommand(input.gate, command).replaceAll('"', '\\"');
}

/**
 * The configured options with their `permitlisten` entries replaced by one per allowed port.
 * `localhost` is the listen address ssh asks for when `-R` names none, as our agent's does;
 * sshd compares it as a string, so `-R 127.0.0.1:P:…` is refused as well.
 */
export function withListenPorts(options: string, ports: readonly number[]): string {
  const kept = splitOptions(options).filter((option) => !/^permitlisten=/i.test(option));
  return [...kept, ...ports.map((port) => `permitlisten="localhost:${port}"`)].join(',');
}

/** Options split at the commas outside double quotes (`from="a,b"` is one option). */
function splitOptions(options: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < options.length; i++) {
    const char = options[i]!;
    if (char === '\\' && quoted && i + 1 < options.length) {
      current += char + options[++i]!;
      continue;
    }
    if (char === '"') quoted = !quoted;
    if (char === ',' && !quoted) {
      if (current !== '') parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  if (current !== '') parts.push(current);
  return parts;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

function printable(text: string): string {
  return text.replace(CONTROL, '');
}
