import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded.js';
import { StoreLockedError } from '../../src/store/errors.js';
import { sampleLoad, sampleReplica, storeContract } from './contract.js';

storeContract('embedded', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'banyan-store-'));
  const h = {
    store: (await EmbeddedStore.open({ dir })) as EmbeddedStore,
    async reopen() {
      await h.store.close();
      h.store = await EmbeddedStore.open({ dir });
      return h.store;
    },
    async cleanup() {
      await h.store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return h;
});

describe('embedded store directory', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  const tempDir = async () => {
    const d = await mkdtemp(path.join(os.tmpdir(), 'banyan-store-'));
    dirs.push(d);
    return d;
  };

  it('refuses a second store on a directory in use, with a clear error, and frees it on close', async () => {
    const dir = await tempDir();
    const a = await EmbeddedStore.open({ dir });
    try {
      const err = await EmbeddedStore.open({ dir }).catch((e) => e);
      expect(err).toBeInstanceOf(StoreLockedError);
      expect(err.message).toContain(dir);
      expect(err.message).toContain('in use');
    } finally {
      await a.close();
    }
    const b = await EmbeddedStore.open({ dir });
    await b.close();
  });

  it('keeps replica status and load samples in memory only: not in state.json, gone after a restart', async () => {
    const dir = await tempDir();
    let store = await EmbeddedStore.open({ dir });
    try {
      await store.putReplicaStatus(sampleReplica('replica-a'));
      await store.addLoadSamples([sampleLoad('auth', 1000)]);
      await store.setOverride({ route: 'auth', backends: [{ cluster: 'a', weight: 1 }], author: 'a', reason: '', baseHash: '' });
      expect(await store.listReplicaStatus(15_000)).toHaveLength(1);
      const state = await readFile(path.join(dir, 'state.json'), 'utf8');
      expect(state).toContain('"auth"');
      expect(state).not.toContain('replica-a');
      expect(state).not.toContain('successes');
      await store.close();
      store = await EmbeddedStore.open({ dir });
      expect(await store.listReplicaStatus(15_000)).toEqual([]);
      expect(await store.listLoadSamples(['auth'], 0, 2000)).toEqual([]);
      expect(await store.getOverride('auth')).toBeDefined();
    } finally {
      await store.close();
    }
  });
});
