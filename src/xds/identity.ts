import type { Logger } from 'pino';
import { globToRegExp } from '../compile/groups.js';
import type { NodeInfo } from '../compile/types.js';
import type { GroupIdentity, ProxyGroup } from '../config/model.js';
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

/** One `identities:` entry, its globs compiled. */
interface CompiledEntry {
  identity: string;
  identityRe: RegExp;
  nodes?: string[];
  nodeRes?: RegExp[];
}

interface GroupRule {
  /** What the group allows, as refusals show it: `spiffe://x/*`, or `spiffe://x/* (nodes edge-*)`. */
  allowed: string[];
  entries: CompiledEntry[];
}

const describeEntry = (e: GroupIdentity): string => (e.nodes ? `${e.identity} (nodes ${e.nodes.join(', ')})` : e.identity);

/**
 * Decides whether a stream's node may join its group, from the peer's certificate: some identity of
 * the certificate must match an entry of the group's `identities`, and the node id must match one of
 * that entry's `nodes` (an entry without `nodes` lets its identity claim any node id).
 */
export class IdentityAdmission implements Admission {
  private compiled?: { groups: readonly ProxyGroup[]; rules: Map<string, GroupRule> };
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
    const matching = rule.entries.filter((e) => identities.some((id) => e.identityRe.test(id)));
    if (matching.some((e) => !e.nodeRes || e.nodeRes.some((re) => re.test(node.id)))) return undefined;
    let reason: string;
    if (matching.length) {
      // the identity may join the group, but not as this node
      const claimed = identities.filter((id) => matching.some((e) => e.identityRe.test(id)));
      const limits = matching.map((e) => `${e.identity} may claim only nodes ${e.nodes!.join(', ')}`).join('; ');
      reason = `node "${node.id}" with identity ${claimed.join(', ')} may not claim that node id in group "${group}": ${limits}`;
    } else {
      const who = identities.length ? `identity ${identities.join(', ')}` : auth.transportSecurityType === 'ssl' ? 'no client certificate identity' : 'no client certificate (xDS is served without TLS, so identities cannot be checked)';
      reason = `node "${node.id}" with ${who} may not join group "${group}", which allows ${rule.allowed.join(', ')}`;
    }
    this.refusals.push({ nodeId: node.id, nodeCluster: node.cluster, identities, group, allowed: [...rule.allowed], reason, peer: call.getPeer(), when, at: new Date().toISOString() });
    if (this.refusals.length > MAX_REFUSALS) this.refusals.splice(0, this.refusals.length - MAX_REFUSALS);
    this.log.warn({ node: node.id, identities, group, when }, 'xDS stream refused: %s', reason);
    return reason;
  }

  private rules(): Map<string, GroupRule> {
    const groups = this.groups() ?? [];
    if (this.compiled?.groups !== groups) {
      const rules = new Map<string, GroupRule>();
      for (const g of groups) {
        if (!g.identities) continue;
        rules.set(g.name, {
          allowed: g.identities.map(describeEntry),
          entries: g.identities.map((e) => ({
            identity: e.identity,
            identityRe: globToRegExp(e.identity),
            ...(e.nodes && { nodes: e.nodes, nodeRes: e.nodes.map(globToRegExp) }),
          })),
        });
      }
      this.compiled = { groups, rules };
      if (rules.size && this.clientCertsVerified === false) {
        this.log.warn({ groups: [...rules.keys()] }, 'groups require client-certificate identities but xDS does not verify client certificates (no --tls-client-ca): their proxies are all refused');
      }
    }
    return this.compiled.rules;
  }
}
