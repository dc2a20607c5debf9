// How a model's Juju machines are named as LXD containers: `turku-<model>-m<machine id>`, a
// container machine id's `/` as `-` (`0/lxd/1` is `turku-<model>-m0-lxd-1`). One rule for the
// machines a model launches, for deleting them, and for naming the model behind a container.

/** The start of the names of a model's containers. */
export function containerPrefix(model: string): string {
  return `turku-${model}-m`;
}

/** Machine `machineId`'s container in `model`. */
export function containerName(model: string, machineId: string): string {
  return `${containerPrefix(model)}${machineId.replaceAll('/', '-')}`;
}

/** A machine id as it ends a container's name: a number, then `-lxd-<n>` for each level of nesting. */
const MACHINE_SUFFIX = /^\d+(?:-lxd-\d+)*$/;

/** Whether `name` is one of `model`'s containers (model `a`'s prefix also starts model `a-m1`'s names). */
export function isModelContainer(name: string, model: string): boolean {
  const prefix = containerPrefix(model);
  return name.startsWith(prefix) && MACHINE_SUFFIX.test(name.slice(prefix.length));
}

/**
 * The model a container belongs to by its name; undefined when it is not named as a model's.
 * `turku-a-m1-m2` is model `a-m1`'s machine 2: `1-m2` is no machine id of model `a`.
 */
export function modelOfContainer(name: string): string | undefined {
  const match = /^turku-(.+)-m(\d+(?:-lxd-\d+)*)$/.exec(name);
  return match?.[1];
}
