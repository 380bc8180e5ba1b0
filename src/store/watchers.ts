import type { StoreChange } from './types.js';

/** Watch listeners of a store. A throwing listener is isolated so it cannot fail the mutation that notified it. */
export class Watchers {
  private readonly listeners = new Set<(change: StoreChange) => void>();

  add(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(change: StoreChange): void {
    for (const l of [...this.listeners]) {
      try {
        l(change);
      } catch {
        // a listener's own failure is its business; the change is committed either way
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
