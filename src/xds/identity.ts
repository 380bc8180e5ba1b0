import type { Logger } from 'pino';
import { globToRegExp } from '../compile/groups.js';
import type { NodeInfo } from '../compile/types.js';
import type { ProxyGroup } from '../config/model.js';
import type { RefusalRecord } from './status.js';
import type { Admission, PeerCall } from './stream.js';

/** How many refusals `status` keeps (the latest). */
export const MAX_REFUSALS = 100;

/**
 * A certificate's identities as groups name them: URI SANs as given, DNS SANs as `dns:<name>`. Node's
 * `subjectaltname` is `URI:spiffe://..., DNS:edge-1.internal` (values with commas are JSON-quoted).
 */
export function certificateIdentities(subjectaltname: string | undefined): string[] {
  if (!subjectaltname) return [];
  const out: string[] = [];
  const re = /(URI|DNS|IP Address|email|DirName|othername):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
  for (const m of subjectaltname.matchAll(re)) {
    const value = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    if (m[1] === 'URI') out.push(value);
    else if (m[1] === 'DNS') out.push(`dns:${value}`);
  }
  return out;
}

/** Decides whether a stream's node may join its group, from the peer's certificate. */
export class IdentityAdmission implements Admission {
  private compiled?: { groups: readonly ProxyGroup[]; allowed: Map<string, { patterns: string[]; res: RegExp[] }> };
  readonly refusals: RefusalRecord[] = [];

  constructor(
    private readonly groups: () => readonly ProxyGroup[] | undefined,
    private readonly log: Logger,
    private readonly clientCertsVerified: boolean | undefined,
  ) {}

  /** Looks at the groups served now (after a snapshot change): warns once per config when identities cannot be checked. */
  refresh(): void {
    this.rules();
  }

  check(node: NodeInfo, group: string, call: PeerCall, when: RefusalRecord['when']): string | undefined {
    const rule = this.rules().get(group);
    if (!rule) return undefined;
    const auth = call.getAuthContext();
    const identities = certificateIdentities(auth.sslPeerCertificate?.subjectaltname);
    if (identities.some((id) => rule.res.some((re) => re.test(id)))) return undefined;
    const who = identities.length ? `identity ${identities.join(', ')}` : auth.transportSecurityType === 'ssl' ? 'no client certificate identity' : 'no client certificate (xDS is served without TLS, so identities cannot be checked)';
    const reason = `node "${node.id}" with ${who} may not join group "${group}", which allows ${rule.patterns.join(', ')}`;
    this.refusals.push({ nodeId: node.id, nodeCluster: node.cluster, identities, group, allowed: [...rule.patterns], reason, peer: call.getPeer(), when, at: new Date().toISOString() });
    if (this.refusals.length > MAX_REFUSALS) this.refusals.splice(0, this.refusals.length - MAX_REFUSALS);
    this.log.warn({ node: node.id, identities, group, when }, 'xDS stream refused: %s', reason);
    return reason;
  }

  private rules(): Map<string, { patterns: string[]; res: RegExp[] }> {
    const groups = this.groups() ?? [];
    if (this.compiled?.groups !== groups) {
      const allowed = new Map<string, { patterns: string[]; res: RegExp[] }>();
      for (const g of groups) if (g.identities) allowed.set(g.name, { patterns: g.identities, res: g.identities.map(globToRegExp) });
      this.compiled = { groups, allowed };
      if (allowed.size && this.clientCertsVerified === false) {
        this.log.warn({ groups: [...allowed.keys()] }, 'groups require client-certificate identities but xDS does not verify client certificates (no --tls-client-ca): their proxies are all refused');
      }
    }
    return this.compiled.allowed;
  }
}
