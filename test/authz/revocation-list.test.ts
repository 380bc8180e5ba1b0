import { describe, expect, it } from 'vitest';
import { Authorizer } from '../../src/authz/authorizer.js';
import { RevocationList, RevocationSync, type RevocationStore } from '../../src/authz/revocations.js';
import type { Revocation, StoreChange } from '../../src/store/types.js';
import { eventually } from '../support/eventually.js';

const rev = (kind: Revocation['kind'], value: string, createdAt = 10_000, expiresAt = 100_000): Revocation => ({ kind, value, reason: '', actor: 't', createdAt, expiresAt });

describe('RevocationList', () => {
  it('denies a jti and every token of a sid whenever issued, and a sub only up to the revocation (to the second)', () => {
    const list = new RevocationList();
    list.replace([rev('jti', 'j1'), rev('sid', 's1'), rev('sub', 'u1', 10_500)]);
    const now = 20_000;
    expect(list.match({ jti: 'j1' }, now)?.kind).toBe('jti');
    expect(list.match({ jti: 'j2' }, now)).toBeUndefined();
    expect(list.match({ sid: 's1', iat: 50 }, now)?.kind).toBe('sid');
    // sub: iat ≤ createdAt is denied (10 s ≤ 10.5 s), a later one passes, a token without iat counts as older
    expect(list.match({ sub: 'u1', iat: 10 }, now)?.kind).toBe('sub');
    expect(list.match({ sub: 'u1', iat: 11 }, now)).toBeUndefined();
    expect(list.match({ sub: 'u1' }, now)?.kind).toBe('sub');
    expect(list.match({ sub: 'u2', iat: 1 }, now)).toBeUndefined();
    // values are matched per kind: a sub equal to a revoked jti is not revoked
    expect(list.match({ sub: 'j1', iat: 1 }, now)).toBeUndefined();
  });

  it('stops denying at expiresAt, and prune forgets expired entries', () => {
    const list = new RevocationList();
    list.replace([rev('jti', 'j1', 0, 5000), rev('jti', 'j2', 0, 9000)]);
    expect(list.match({ jti: 'j1' }, 4999)).toBeDefined();
    expect(list.match({ jti: 'j1' }, 5000)).toBeUndefined();
    list.prune(5000);
    expect(list.size).toBe(1);
  });
});

describe('RevocationSync', () => {
  it('loads at start, re-reads on revocation and resync changes only, and keeps the last list when the store fails', async () => {
    let stored: Revocation[] = [rev('jti', 'a')];
    let fail = false;
    let reads = 0;
    const listeners: ((c: StoreChange) => void)[] = [];
    const store: RevocationStore = {
      async listRevocations() {
        reads++;
        if (fail) throw new Error('down');
        return stored;
      },
      async pruneRevocations() {
        return 0;
      },
      watch(l) {
        listeners.push(l);
        return () => listeners.splice(listeners.indexOf(l), 1);
      },
    };
    const list = new RevocationList();
    const sync = new RevocationSync(list, store, { now: () => 0 });
    await sync.start();
    try {
      expect(list.match({ jti: 'a' }, 0)).toBeDefined();
      stored = [rev('jti', 'b')];
      listeners.forEach((l) => l({ kind: 'config', target: '2' }));
      expect(reads).toBe(1);
      listeners.forEach((l) => l({ kind: 'revocation', target: 'jti:b' }));
      await eventually(() => expect(list.match({ jti: 'b' }, 0)).toBeDefined());
      expect(list.match({ jti: 'a' }, 0)).toBeUndefined();
      fail = true;
      await sync.refresh();
      expect(list.match({ jti: 'b' }, 0)).toBeDefined();
      fail = false;
      stored = [];
      listeners.forEach((l) => l({ kind: 'resync', target: '' }));
      await eventually(() => expect(list.size).toBe(0));
    } finally {
      sync.stop();
    }
    expect(listeners).toHaveLength(0);
  });

  it('the authorizer consults the list it was given', () => {
    const list = new RevocationList();
    expect(new Authorizer({ revocations: list }).revocations).toBe(list);
  });
});
