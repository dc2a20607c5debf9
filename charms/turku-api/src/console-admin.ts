// The web console's admin credential (docs/api.md, "Web console"): a Juju secret owned by the
// application, labelled `console-admin`, created by the leader when an operator first runs the
// get-admin-credential action. The secret is the source of truth; the API's database gets the
// same credential through `turku-api auth-ensure admin` (stdin), like the registration ones.

import { randomAlphanumeric } from '../../../lib/common/random.js';
import { type HookTools, SecretNotFoundError } from '../../../lib/charm/index.js';

export const CONSOLE_ADMIN_LABEL = 'console-admin';
export const CONSOLE_ADMIN_NAME = 'admin';

export interface ConsoleAdminCredential {
  readonly name: string;
  readonly secret: string;
}

/** Juju secret keys: lowercase words with dashes. */
function fromContent(content: Record<string, string>): ConsoleAdminCredential | undefined {
  const name = content['admin-name'];
  const secret = content['admin-secret'];
  return name === undefined || secret === undefined || secret.length < 20 ? undefined : { name, secret };
}

/**
 * Leader: the console admin's credential from its secret; created (or repaired, if its content is
 * not ours) when `create`, else undefined while there is none.
 */
export async function consoleAdminCredential(
  tools: HookTools,
  create: boolean,
): Promise<ConsoleAdminCredential | undefined> {
  const fresh = () => ({ 'admin-name': CONSOLE_ADMIN_NAME, 'admin-secret': randomAlphanumeric(32) });
  let id: string | undefined;
  try {
    id = (await tools.secretInfoGet({ label: CONSOLE_ADMIN_LABEL })).id;
  } catch (error) {
    if (!(error instanceof SecretNotFoundError)) throw error;
  }
  if (id === undefined) {
    if (!create) return undefined;
    const content = fresh();
    await tools.secretAdd(content, {
      label: CONSOLE_ADMIN_LABEL,
      description: 'Turku web console admin credential',
    });
    return fromContent(content);
  }
  const read = fromContent(await tools.secretGet({ id }, { refresh: true }));
  if (read !== undefined || !create) return read;
  const content = fresh();
  await tools.secretSet(id, { content });
  return fromContent(content);
}
