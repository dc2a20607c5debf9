// The two scripts that put a unit's hooks inside its LXD machine. On the host, the simulator runs
// a charm's `dispatch` path: here that is a wrapper which copies the unpacked charm into the unit's
// agent directory in the container (once per charm version) and runs the real `dispatch` there
// with `lxc exec`, passing the hook environment. In the container, each hook tool is a small
// script running the tool shim (lib/charm-testing/bin/hook-tool.cjs) on the charm's own Node.js.
import { shellQuote } from '../../common/shell-quote.js';

/** Where the hook tools live in every LXD machine (first on the hooks' PATH). */
export const TOOLS_DIR = '/var/lib/turku-lxd/hook-tools';
/** The tool shim's copies, one per tool name (its argv[1] basename names the tool). */
export const SHIM_DIR = '/var/lib/turku-lxd/hook-tool-shims';
/** The socket the proxy device offers in each machine (JUJU_AGENT_SOCKET_ADDRESS). */
export const AGENT_SOCKET = '/run/turku-juju-agent.sock';
const MACHINE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The machine's script for one hook tool: the shim on the hook's charm's Node.js. */
export function toolScript(tool: string): string {
  return [
    '#!/bin/sh',
    'case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac',
    `exec "$JUJU_CHARM_DIR/node/$arch/bin/node" ${SHIM_DIR}/${tool} "$@"`,
    '',
  ].join('\n');
}

export interface DispatchWrapperOptions {
  /** The unpacked charm on the host (it holds `.unpacked-from`, the version stamp). */
  readonly hostCharmDir: string;
  /** Container name for a machine id: this prefix, then the id with `/` as `-`. */
  readonly containerPrefix: string;
  /** Node.js builds of other architectures, left out of the copy (`node/arm64`). */
  readonly skipNodeArchs: readonly string[];
  /** One line per hook is appended here. */
  readonly hooksLog: string;
}

/** The host-side `dispatch` of a charm whose units run in LXD machines. */
export function dispatchWrapper(options: DispatchWrapperOptions): string {
  const excludes = options.skipNodeArchs.map((arch) => `--exclude=./node/${arch}`).join(' ');
  const host = shellQuote(options.hostCharmDir);
  return [
    '#!/bin/sh',
    '# Runs the hook in the unit machine (an LXD container): lib/substrate/lxd/hook-scripts.ts.',
    `container=${shellQuote(options.containerPrefix)}$(printf %s "$JUJU_MACHINE_ID" | tr / -)`,
    'charm_dir=/var/lib/juju/agents/unit-$(printf %s "$JUJU_UNIT_NAME" | tr / -)/charm',
    // The charm's files, copied when the unit has none or an older version.
    `if [ "$(lxc exec "$container" -- cat "$charm_dir/.unpacked-from" 2>/dev/null)" != "$(cat ${host}/.unpacked-from)" ]; then`,
    '  lxc exec "$container" -- sh -c \'rm -rf "$1" && mkdir -p "$1"\' sh "$charm_dir" || exit 1',
    `  tar -C ${host} ${excludes} -cf - . | lxc exec "$container" -- tar -xf - -C "$charm_dir" || exit 1`,
    'fi',
    // The hook environment, as the unit agent would set it, with the machine's paths.
    'set --',
    'for name in $(env | sed -n "s/^\\(JUJU_[A-Z0-9_]*\\|DEBIAN_FRONTEND\\|APT_LISTCHANGES_FRONTEND\\|LANG\\)=.*/\\1/p"); do',
    '  case "$name" in JUJU_CHARM_DIR | JUJU_AGENT_SOCKET_ADDRESS) continue ;; esac',
    '  eval "value=\\$$name"',
    '  set -- "$@" --env "$name=$value"',
    'done',
    'started=$(date +%s%N)',
    'lxc exec "$container" --cwd "$charm_dir" "$@" --env "JUJU_CHARM_DIR=$charm_dir" --env "CHARM_DIR=$charm_dir" \\',
    `  --env JUJU_AGENT_SOCKET_ADDRESS=${AGENT_SOCKET} --env PATH=${TOOLS_DIR}:${MACHINE_PATH} -- "$charm_dir/dispatch"`,
    'code=$?',
    `printf '%s %s %s exit=%s %sms\\n' "$(date -u +%FT%TZ)" "$JUJU_UNIT_NAME" "$JUJU_DISPATCH_PATH" "$code" "$(( ($(date +%s%N) - started) / 1000000 ))" >> ${shellQuote(options.hooksLog)}`,
    'exit $code',
    '',
  ].join('\n');
}
