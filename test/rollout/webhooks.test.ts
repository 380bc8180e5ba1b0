import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { WebhookSpec } from '../../src/config/model.js';
import { askGate, deliver, signPayload, verifySignature, webhookBody, type WebhookOptions } from '../../src/rollout/webhooks.js';
import type { WebhookDelivery } from '../../src/store/types.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { freePort } from '../support/ports.js';

const pkgVersion = (JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  method?: string;
}

/** What the receiver does with its nth request (1-based): answer, or hold the request unanswered. */
type Behaviour = (n: number) => { status: number; headers?: Record<string, string>; body?: string } | 'hang';

describe('rollout webhooks against a real HTTP receiver', () => {
  let server: http.Server;
  let url: string;
  let received: Received[] = [];
  let behaviour: Behaviour = () => ({ status: 200 });
  const logger = createLogger('webhooks-test', 'silent');

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), method: req.method });
        const b = behaviour(received.length);
        if (b === 'hang') return; // never answered: the client's timeout has to end it
        res.writeHead(b.status, b.headers);
        res.end(b.body ?? '');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    received = [];
    behaviour = () => ({ status: 200 });
  });

  const spec = (over: Partial<WebhookSpec> = {}): WebhookSpec => ({ name: 'ci', url, events: ['pre-step', 'post-step'], gate: false, timeoutMs: 2_000, retries: 3, ...over });
  const delivery: WebhookDelivery = { id: 'd-42', webhook: 'ci', event: 'post-step', payload: { name: 'auth', route: 'auth-login', percent: 25 } };

  function options(over: Partial<WebhookOptions> = {}): WebhookOptions & { slept: number[] } {
    const slept: number[] = [];
    return {
      env: { HOOK_SECRET: 's3cret' },
      logger,
      sleep: async (ms) => {
        slept.push(ms);
      },
      random: () => 0.5,
      slept,
      ...over,
    };
  }

  it('signs with the secret: the receiver verifies it with the secret and not with another, and refuses a stale or altered request', async () => {
    const res = await deliver(spec({ secretEnv: 'HOOK_SECRET' }), delivery, options());
    expect(res).toEqual({ ok: true, status: 200, attempts: 1 });
    expect(received).toHaveLength(1);
    const [{ headers, body }] = received;
    expect(headers['x-banyan-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifySignature('s3cret', headers, body, 300)).toBe(true);
    expect(verifySignature('another', headers, body, 300)).toBe(false);
    expect(verifySignature('s3cret', headers, `${body} `, 300)).toBe(false);
    const ts = Number(headers['x-banyan-timestamp']);
    expect(verifySignature('s3cret', headers, body, 300, ts + 301)).toBe(false);
    expect(verifySignature('s3cret', headers, body, 300, ts + 299)).toBe(true);
    // The scheme as documented: HMAC-SHA256 over `${timestamp}.${body}`.
    expect(headers['x-banyan-signature']).toBe(signPayload('s3cret', ts, body));
    expect(signPayload('k', 1700000000, '{}')).toBe('sha256=' + createHmac('sha256', 'k').update('1700000000.{}').digest('hex'));
  });

  it('sends the documented headers and body; no signature header without a secret', async () => {
    const before = Math.floor(Date.now() / 1000);
    await deliver(spec(), delivery, options());
    const after = Math.ceil(Date.now() / 1000);
    expect(received).toHaveLength(1);
    const [{ headers, body, method }] = received;
    expect(method).toBe('POST');
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-banyan-event']).toBe('post-step');
    expect(headers['x-banyan-delivery']).toBe('d-42');
    expect(headers['user-agent']).toBe(`banyan/${pkgVersion}`);
    const ts = Number(headers['x-banyan-timestamp']);
    expect(ts).toBeGreaterThanOrEqual(before);
    expect(ts).toBeLessThanOrEqual(after);
    expect(headers['x-banyan-signature']).toBeUndefined();
    expect(JSON.parse(body)).toEqual({ id: 'd-42', event: 'post-step', rollout: { name: 'auth', route: 'auth-login', percent: 25 } });
    expect(body).toBe(webhookBody(delivery));
  });

  it('retries a 503 and succeeds on the third attempt, with the same delivery id and body every time', async () => {
    behaviour = (n) => (n < 3 ? { status: 503, body: 'busy' } : { status: 204 });
    const opts = options();
    const res = await deliver(spec({ secretEnv: 'HOOK_SECRET' }), delivery, opts);
    expect(res).toEqual({ ok: true, status: 204, attempts: 3 });
    expect(received.map((r) => r.headers['x-banyan-delivery'])).toEqual(['d-42', 'd-42', 'd-42']);
    expect(new Set(received.map((r) => r.body)).size).toBe(1);
    for (const r of received) expect(verifySignature('s3cret', r.headers, r.body)).toBe(true);
    // Full jitter with random() = 0.5: half of 250 ms, then half of 500 ms.
    expect(opts.slept).toEqual([125, 250]);
  });

  it('gives up after 1 + retries attempts; backoff doubles up to the 10 s cap', async () => {
    behaviour = () => ({ status: 500, body: 'boom' });
    const opts = options();
    const res = await deliver(spec({ retries: 7 }), delivery, opts);
    expect(res.ok).toBe(false);
    expect(res.status).toBe(500);
    expect(res.attempts).toBe(8);
    expect(res.error).toContain('HTTP 500: boom');
    expect(received).toHaveLength(8);
    expect(opts.slept).toEqual([125, 250, 500, 1000, 2000, 4000, 5000]);
  });

  it('does not retry a 400 (or any other 4xx but 429), and quotes the answer', async () => {
    behaviour = () => ({ status: 400, body: 'unknown event' });
    const opts = options();
    const res = await deliver(spec(), delivery, opts);
    expect(res).toMatchObject({ ok: false, status: 400, attempts: 1 });
    expect(res.error).toContain('HTTP 400: unknown event');
    expect(received).toHaveLength(1);
    expect(opts.slept).toEqual([]);
  });

  it('a timed-out attempt is retried', async () => {
    behaviour = (n) => (n === 1 ? 'hang' : { status: 200 });
    const started = Date.now();
    const res = await deliver(spec({ timeoutMs: 300 }), delivery, options());
    expect(res).toEqual({ ok: true, status: 200, attempts: 2 });
    expect(received).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('every attempt timing out fails naming the timeout', async () => {
    behaviour = () => 'hang';
    const res = await deliver(spec({ timeoutMs: 150, retries: 1 }), delivery, options());
    expect(res.ok).toBe(false);
    expect(res.status).toBeUndefined();
    expect(res.attempts).toBe(2);
    expect(res.error).toContain('no answer within 150ms');
  });

  it('network errors are retried, then reported', async () => {
    const closed = `http://127.0.0.1:${await freePort()}/hook`;
    const opts = options();
    const res = await deliver(spec({ url: closed, retries: 2 }), delivery, opts);
    expect(res.ok).toBe(false);
    expect(res.attempts).toBe(3);
    expect(res.error).toContain('ECONNREFUSED');
    expect(opts.slept).toHaveLength(2);
  });

  it('honours Retry-After on 429 (seconds), capped at 10 s', async () => {
    behaviour = (n) => (n === 1 ? { status: 429, headers: { 'Retry-After': '3' } } : n === 2 ? { status: 429, headers: { 'Retry-After': '120' } } : { status: 200 });
    const opts = options();
    const res = await deliver(spec(), delivery, opts);
    expect(res).toEqual({ ok: true, status: 200, attempts: 3 });
    expect(opts.slept).toEqual([3000, 10_000]);
  });

  it('a missing secret variable fails clearly and sends nothing unsigned', async () => {
    const res = await deliver(spec({ secretEnv: 'NOT_SET_ANYWHERE' }), delivery, options({ env: {} }));
    expect(res.ok).toBe(false);
    expect(res.attempts).toBe(0);
    expect(res.error).toContain('NOT_SET_ANYWHERE');
    expect(res.error).toContain('not set');
    const gate = await askGate(spec({ secretEnv: 'NOT_SET_ANYWHERE', gate: true }), delivery, options({ env: { NOT_SET_ANYWHERE: '' } }));
    expect(gate.open).toBe(false);
    expect(gate.open === false && gate.reason).toContain('NOT_SET_ANYWHERE');
    expect(received).toHaveLength(0);
  });

  describe('gates', () => {
    const gateSpec = (over: Partial<WebhookSpec> = {}) => spec({ gate: true, events: ['pre-step'], secretEnv: 'HOOK_SECRET', ...over });
    const pre: WebhookDelivery = { ...delivery, id: 'g-1', event: 'pre-step' };

    it('2xx opens, signed like a notification', async () => {
      behaviour = () => ({ status: 202 });
      expect(await askGate(gateSpec(), pre, options())).toEqual({ open: true, status: 202 });
      expect(received).toHaveLength(1);
      expect(received[0].headers['x-banyan-event']).toBe('pre-step');
      expect(verifySignature('s3cret', received[0].headers, received[0].body)).toBe(true);
    });

    it('a non-2xx closes with the status and the first 200 characters of the answer, asking exactly once', async () => {
      behaviour = () => ({ status: 503, body: `error budget exhausted ${'x'.repeat(500)}` });
      const answer = await askGate(gateSpec(), pre, options());
      expect(answer.open).toBe(false);
      if (answer.open) return;
      expect(answer.status).toBe(503);
      expect(answer.reason).toContain('HTTP 503: error budget exhausted');
      const quoted = answer.reason.slice(answer.reason.indexOf('error budget'));
      expect(quoted).toHaveLength(200);
      expect(received).toHaveLength(1);
    });

    it('a timeout closes it, naming the timeout', async () => {
      behaviour = () => 'hang';
      const answer = await askGate(gateSpec({ timeoutMs: 150 }), pre, options());
      expect(answer).toEqual({ open: false, reason: 'gate ci closed: no answer within 150ms' });
    });

    it('a redirect is not followed and keeps it closed', async () => {
      behaviour = () => ({ status: 302, headers: { Location: 'http://127.0.0.1:1/elsewhere' } });
      const answer = await askGate(gateSpec(), pre, options());
      expect(answer).toMatchObject({ open: false, status: 302 });
      expect(received).toHaveLength(1);
    });
  });
});
