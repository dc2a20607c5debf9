// The `dispatch` executable every packed charm carries
// (docs/charm-runtime.md, "Packing and start-up"). Juju runs it for every hook and action, so it
// stays quiet on stdout (stdout is action output) and adds no process of its own: it picks a Node
// binary and execs the bundle (dist/charm.cjs), keeping the environment and the exit code. A
// version probe here would cost a second Node start-up on every hook. The charm ships Node.js per
// architecture (node/amd64/bin/node, node/arm64/bin/node): `uname -m` names the machine's, in the
// kernel's words (x86_64, aarch64), mapped to Debian's as the pack names them.
//
// NODE_COMPILE_CACHE: Node keeps V8's code cache of dist/charm.cjs in the charm directory, so a
// hook after the first one does not parse and compile the whole bundle again (about 8 ms of CPU for a
// 200-260 KB charm). The cache sits beside the code it caches, in the directory Juju gives the
// unit's root-run agent: whoever could write a cache entry could as well rewrite the bundle. Set
// this way, not by a launcher file, because it costs the hook nothing (a launcher costs a
// no-op hook more than its small bundle gains); the runtime unsets it before running anything,
// so the programs a hook starts keep their own caches (lib/charm-pack/launcher.ts).
export const DISPATCH_SCRIPT = `#!/bin/sh
charm_dir="\${JUJU_CHARM_DIR:-$(cd "$(dirname "$0")" && pwd)}"
arch=$(uname -m)
case "$arch" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
esac
if [ -x "$charm_dir/node/$arch/bin/node" ]; then
  node="$charm_dir/node/$arch/bin/node"
elif command -v node >/dev/null 2>&1; then
  node=node
else
  echo "ERROR no Node.js for this charm: neither $charm_dir/node/$arch/bin/node nor node on PATH" >&2
  exit 1
fi
NODE_COMPILE_CACHE="$charm_dir/.node-compile-cache" exec "$node" "$charm_dir/dist/charm.cjs"
`;
