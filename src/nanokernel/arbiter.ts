// TX arbitration: which port's head frame goes to the NIC next. Policies are separate, swappable
// strategies (as sDDF's mux_tx_priority / mux_tx_round_robin): `strict` serves the primary first
// and shares the rest by weighted deficit round robin; `weighted` shares all ports by DRR.
// A port over its rate limit is not eligible until its bucket has the tokens.
import type { Port } from './port.js';

export type TxPolicyName = 'strict' | 'weighted';

/** DRR quantum per unit of weight: one maximum tagged frame, so every visit sends at least one. */
export const DRR_QUANTUM_BYTES = 1522;

export interface TxPolicy {
  readonly name: TxPolicyName;
  /** The port whose head frame goes next, or undefined when none is eligible now. */
  select(now: number): Port | undefined;
}

function eligible(port: Port, now: number): boolean {
  const head = port.tx.peek();
  if (head === undefined) return false;
  if (port.bucket && !port.bucket.allows(head.length, now)) {
    port.counters.txRateLimited++;
    return false;
  }
  return true;
}

/** Deficit round robin by bytes over a set of ports, each with its weight. */
export class DeficitRoundRobin {
  private cursor = 0;
  /** True when the port under the cursor has not yet received its quantum for this visit. */
  private fresh = true;
  private readonly guard: number;

  constructor(private readonly ports: readonly Port[]) {
    for (const p of ports) if (!(p.weight > 0)) throw new RangeError(`weight of ${p.name} must be positive, got ${p.weight}`);
    const minWeight = Math.min(...ports.map((p) => p.weight));
    // Enough visits for the lightest port to accumulate one quantum, around the whole ring.
    this.guard = ports.length * (Math.ceil(1 / minWeight) + 1) + 1;
  }

  select(now: number): Port | undefined {
    const n = this.ports.length;
    if (n === 0) return undefined;
    let any = false;
    for (const p of this.ports) {
      if (p.tx.isEmpty()) p.deficit = 0; // an idle port does not bank credit
      else any = true;
    }
    if (!any) return undefined;
    for (let i = 0; i < this.guard; i++) {
      const p = this.ports[this.cursor]!;
      if (eligible(p, now)) {
        if (this.fresh) {
          p.deficit += p.weight * DRR_QUANTUM_BYTES;
          this.fresh = false;
        }
        const len = p.tx.peek()!.length;
        if (len <= p.deficit) {
          p.deficit -= len;
          return p;
        }
      }
      this.cursor = (this.cursor + 1) % n;
      this.fresh = true;
    }
    return undefined;
  }
}

/** Primary ports first (in order), then the rest by weighted DRR. */
export class StrictPriority implements TxPolicy {
  readonly name = 'strict' as const;
  private readonly primaries: readonly Port[];
  private readonly rest: DeficitRoundRobin;

  constructor(ports: readonly Port[]) {
    this.primaries = ports.filter((p) => p.primary);
    this.rest = new DeficitRoundRobin(ports.filter((p) => !p.primary));
  }

  select(now: number): Port | undefined {
    for (const p of this.primaries) if (eligible(p, now)) return p;
    return this.rest.select(now);
  }
}

/** Every port by weighted DRR, the primary included. */
export class WeightedShare implements TxPolicy {
  readonly name = 'weighted' as const;
  private readonly drr: DeficitRoundRobin;

  constructor(ports: readonly Port[]) {
    this.drr = new DeficitRoundRobin(ports);
  }

  select(now: number): Port | undefined {
    return this.drr.select(now);
  }
}

export function makeTxPolicy(name: TxPolicyName, ports: readonly Port[]): TxPolicy {
  return name === 'strict' ? new StrictPriority(ports) : new WeightedShare(ports);
}
