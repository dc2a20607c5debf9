/**
 * A memory of recent values with a budget in bytes: each value is stored with an estimate of what
 * it costs, and the least recently stored values are forgotten first once the estimates add up to
 * more than the budget. The API's memories of logins and accepted configurations are shortcuts
 * (a value forgotten only sends a request the ordinary way), so a budget bounds what they may cost
 * however large the fleet.
 */
export class BoundedMemo<K, V> {
  readonly #entries = new Map<K, { readonly value: V; readonly cost: number }>();
  #total = 0;

  constructor(readonly budgetBytes: number) {}

  get(key: K): V | undefined {
    return this.#entries.get(key)?.value;
  }

  /** Stores `value` as the most recent, then forgets the oldest values until within budget. */
  set(key: K, value: V, cost: number): void {
    this.delete(key);
    if (cost > this.budgetBytes) return;
    this.#entries.set(key, { value, cost });
    this.#total += cost;
    for (const [oldest, entry] of this.#entries) {
      if (this.#total <= this.budgetBytes) break;
      this.#entries.delete(oldest);
      this.#total -= entry.cost;
    }
  }

  /** Makes a stored value the most recent again, keeping its cost; false when it is not stored. */
  touch(key: K): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return true;
  }

  delete(key: K): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#total -= entry.cost;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The sum of the stored values' estimated costs. */
  get totalCost(): number {
    return this.#total;
  }
}
