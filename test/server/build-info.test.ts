/**
 * banyan_build_info: the Prometheus "what is running" gauge on serve's /metrics, labelled with
 * package.json's version and the Node.js version.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { banyanVersion } from '../../src/version.js';
import { startTestBanyan, type TestBanyan } from '../support/banyan.js';

const PACKAGE_VERSION = (JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;

describe('banyan_build_info', () => {
  let t: TestBanyan | undefined;
  afterAll(async () => t?.stop());

  it("is 1, labelled with package.json's version and Node's", async () => {
    expect(banyanVersion()).toBe(PACKAGE_VERSION);
    t = await startTestBanyan('listeners: []\nclusters: []\n');
    const text = await t.banyan.registry.metrics();
    expect(text).toContain(`banyan_build_info{version="${PACKAGE_VERSION}",nodejs_version="${process.versions.node}"} 1`);
  });
});
