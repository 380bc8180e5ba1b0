/** WorkloadCerts: one certificate per identity, shared by concurrent asks, renewed after half its life. */
import { describe, expect, it } from 'vitest';
import { certFromPem, createCa, describeCert, keyFromPem, keyMatches } from '../../src/ca/index.js';
import { WorkloadCerts } from '../../src/ca/workload.js';

const SPIFFE = 'spiffe://local/ns/default/sa/edge';

describe('WorkloadCerts', () => {
  it('issues once per identity, concurrent asks included, with the key that matches and the CA alongside', async () => {
    const ca = await createCa();
    const w = new WorkloadCerts(ca);
    const [a, b] = await Promise.all([w.pemFor(SPIFFE), w.pemFor(SPIFFE)]);
    expect(w.issued).toBe(1);
    expect(b).toBe(a);
    const cert = certFromPem(a.certPem);
    expect(describeCert(cert).sans).toEqual([`URI:${SPIFFE}`]);
    expect(await keyMatches(cert, await keyFromPem(a.keyPem))).toBe(true);
    expect(certFromPem(a.caPem).serialNumber).toBe(ca.cert.serialNumber);
    await w.pemFor('spiffe://local/ns/default/sa/other');
    expect(w.issued).toBe(2);
  });

  it('renews after half the lifetime and not before', async () => {
    let now = new Date('2031-06-01T00:00:00Z');
    const ca = await createCa({ now });
    const w = new WorkloadCerts(ca, { hours: 2, clock: () => now });
    const first = await w.pemFor(SPIFFE);
    expect(first.rotateAt.getTime()).toBe(first.notAfter.getTime() - (first.notAfter.getTime() - certFromPem(first.certPem).notBefore.getTime()) / 2);
    now = new Date(first.rotateAt.getTime() - 1_000);
    expect(await w.pemFor(SPIFFE)).toBe(first);
    now = new Date(first.rotateAt.getTime() + 1_000);
    const [second, again] = await Promise.all([w.pemFor(SPIFFE), w.pemFor(SPIFFE)]);
    expect(w.issued).toBe(2);
    expect(again).toBe(second);
    expect(certFromPem(second.certPem).serialNumber).not.toBe(certFromPem(first.certPem).serialNumber);
    expect(second.notAfter.getTime()).toBeGreaterThan(first.notAfter.getTime());
  });

  it('refuses to hand out a certificate once the CA has expired (it would be due at once)', async () => {
    const now = new Date('2031-06-01T00:00:00Z');
    const ca = await createCa({ now, days: 1 });
    const w = new WorkloadCerts(ca, { hours: 24 * 30, clock: () => new Date(now.getTime() + 25 * 3_600_000) });
    await expect(w.pemFor(SPIFFE)).rejects.toThrow(/due for rotation at once/);
    // a failed issuance is not cached
    await expect(w.pemFor(SPIFFE)).rejects.toThrow(/due for rotation at once/);
    expect(w.issued).toBe(2);
  });
});
