// The `dispatch` executable every packed charm carries (spec 7.2). Juju runs it for every hook
// and action, so it stays quiet on stdout (stdout is action output) and adds no process of its
// own: it picks a Node binary and execs the bundle, keeping the environment and the exit code.
// The bundle checks the Node version itself (a version probe here would cost a second start-up).
export const DISPATCH_SCRIPT = `#!/bin/sh
charm_dir="\${JUJU_CHARM_DIR:-$(cd "$(dirname "$0")" && pwd)}"
if [ -x "$charm_dir/node/bin/node" ]; then
  node="$charm_dir/node/bin/node"
elif command -v node >/dev/null 2>&1; then
  node=node
else
  echo "ERROR no Node.js for this charm: neither $charm_dir/node/bin/node nor node on PATH" >&2
  exit 1
fi
exec "$node" "$charm_dir/dist/charm.mjs"
`;
