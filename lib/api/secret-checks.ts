import type { Database } from './db/database.js';
import { hashSecret, hashSecretFast, verifySecret, verifySecretFast, type Verification } from './secrets.js';
import { Store } from './store.js';

/**
 * Slow secret work kept out of database transactions. SQLite transactions run one at a time, so
 * a scrypt or an imported Argon2id hash (a few hundred milliseconds) checked inside one would hold
 * up every other request, the check-ins of ordinary machines included.
 *
 * A view runs its transaction through `secretTransaction`. Inside it, `checks.verify` and
 * `checks.hash` answer at once when no slow work is needed (a strong secret against a fast hash:
 * the check-in path) or when the work was done in an earlier round. Otherwise they abort the
 * transaction (rolled back, so nothing is written), the work runs outside it, and the transaction
 * starts over with the result at hand. Results live only as long as the request.
 */

/** Thrown inside a transaction: do `work` outside it, then run the transaction again. */
class SlowWorkNeeded extends Error {
  override name = 'SlowWorkNeeded';
  constructor(
    readonly key: string,
    readonly work: () => Promise<unknown>,
  ) {
    super('slow secret work is needed outside the transaction');
  }
}

/** Rounds a request may take; each adds one result (one Auth tried, one hash made). */
const MAX_ROUNDS = 256;

export class SecretChecks {
  readonly #done = new Map<string, unknown>();

  /** `secret` against `stored` (see secrets.ts for what each case costs). */
  verify(secret: string, stored: string): Verification {
    return (
      verifySecretFast(secret, stored) ??
      this.#outside(JSON.stringify(['verify', secret, stored]), () => verifySecret(secret, stored))
    );
  }

  /** The stored form of `secret` (fast for a strong secret, scrypt for a weak one). */
  hash(secret: string): string {
    return hashSecretFast(secret) ?? this.#outside(JSON.stringify(['hash', secret]), () => hashSecret(secret));
  }

  async run(needed: SlowWorkNeeded): Promise<void> {
    this.#done.set(needed.key, await needed.work());
  }

  #outside<T>(key: string, work: () => Promise<T>): T {
    if (this.#done.has(key)) return this.#done.get(key) as T;
    throw new SlowWorkNeeded(key, work);
  }
}

/** One transaction with its secret checks; see above. */
export async function secretTransaction<T>(
  db: Database,
  work: (store: Store, checks: SecretChecks) => Promise<T>,
): Promise<T> {
  const checks = new SecretChecks();
  for (let round = 1; ; round++) {
    try {
      return await db.transaction((tx) => work(new Store(tx), checks));
    } catch (error) {
      if (!(error instanceof SlowWorkNeeded) || round >= MAX_ROUNDS) throw error;
      await checks.run(error);
    }
  }
}
