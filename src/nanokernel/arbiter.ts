// TX arbitration: which port's head frame goes to the NIC next. Policies are separate, swappable
// strategies (as sDDF's mux_tx_priority / mux_tx_round_robin): `strict` serves the primary first
// and shares the rest by weighted deficit round robin; `weighted` shares all ports by DRR.
// A port over its rate limit is not eligible until its bucket has the tokens.
// The DRR keeps an active list (Shreedhar & Varghese): only ports with queued frames are on it,
// a port joins when its TX queue stops being empty (Port.onTxActive) and leaves when it is found
// empty, so the cost per frame does not grow with the number of ports (256 guests cost as 2).
import { Ring } from '../machine/ring.js';
import type { Port } from './port.js';

export type TxPolicyName = 'strict' | 'weighted';

/** DRR quantum per unit of weight: one maximum tagged frame, so every visit sends at least one. */
export const DRR_QUANTUM_BYTES = 1522;

export interface TxPolicy {
  readonly name: TxPolicyName;
  /** The port whose head frame goes next, or undefined when none is eligible now. */
  select(now: number): Port | undefined;
  /** Whether some port could send now. */
  pending(now: number): boolean;
  /** The earliest time a rate-limited port with queued frames may send (Infinity if none). */
  nextReadyAt(now: number): number;
}

function eligible(port: Port, now: number): boolean {
  const head = port.tx.peek();
  return head !== undefined && headAllowed(port, head, now);
}

/** The port's rate limit lets its head frame go now (counted when it does not). */
function headAllowed(port: Port, head: Uint8Array, now: number): boolean {
  if (port.bucket && !port.bucket.allows(head.length, now)) {
    port.counters.txRateLimited++;
    return false;
  }
  return true;
}

/** Deficit round robin by bytes over the active ones of a set of ports, each with its weight. */
export class DeficitRoundRobin {
  private readonly active: Ring<Port>;
  /** The port being served in this visit (it has had its quantum), also counted as active. */
  private current: Port | undefined;
  /** Active ports without a rate limit (any of them makes `pending` true at once). */
  private unlimited = 0;
  /** Active ports with a rate limit (only these are looked at one by one). */
  private readonly limited = new Set<Port>();
  /** Visits per select per active port: enough for the lightest port to gather one quantum. */
  private readonly roundsPerFrame: number;

  constructor(ports: readonly Port[]) {
    for (const p of ports) if (!(p.weight > 0)) throw new RangeError(`weight of ${p.name} must be positive, got ${p.weight}`);
    this.active = new Ring(Math.max(1, ports.length));
    this.roundsPerFrame = ports.length === 0 ? 1 : Math.ceil(1 / Math.min(...ports.map((p) => p.weight))) + 1;
    // One listener for every port (not a closure each: 255 more objects to touch per round).
    const onTxActive = (q: Port): void => this.activate(q);
    for (const p of ports) {
      p.txActive = false;
      p.deficit = 0;
      p.onTxActive = onTxActive;
      if (!p.tx.isEmpty()) this.activate(p);
    }
  }

  /** A port has frames: on the list (at the tail) unless it is there already. */
  activate(p: Port): void {
    if (p.txActive) return;
    p.txActive = true;
    p.deficit = 0;
    this.active.push(p);
    if (p.bucket) this.limited.add(p);
    else this.unlimited++;
  }

  private deactivate(p: Port): void {
    p.txActive = false;
    p.deficit = 0; // an idle port does not bank credit
    if (p.bucket) this.limited.delete(p);
    else this.unlimited--;
  }

  select(now: number): Port | undefined {
    let visits = (this.active.length + 1) * this.roundsPerFrame;
    while (visits-- > 0) {
      let p = this.current;
      const fresh = p === undefined;
      if (p === undefined) {
        p = this.active.shift();
        if (p === undefined) return undefined;
        this.current = p;
      }
      const head = p.tx.peek();
      if (head === undefined) {
        this.current = undefined;
        this.deactivate(p);
        continue;
      }
      if (fresh) p.deficit += p.weight * DRR_QUANTUM_BYTES;
      if (headAllowed(p, head, now) && head.length <= p.deficit) {
        p.deficit -= head.length;
        return p;
      }
      // Out of credit (or held by its rate limit): to the tail, for the next round.
      this.current = undefined;
      this.active.push(p);
    }
    return undefined;
  }

  pending(now: number): boolean {
    if (this.unlimited > 0) return true;
    if (this.limited.size === 0) return false;
    for (const p of this.limited) {
      const head = p.tx.peek();
      if (head !== undefined && p.bucket!.allows(head.length, now)) return true;
    }
    return false;
  }

  nextReadyAt(now: number): number {
    let at = Infinity;
    if (this.limited.size === 0) return at;
    for (const p of this.limited) {
      const head = p.tx.peek();
      if (head !== undefined) at = Math.min(at, p.bucket!.readyAt(head.length, now));
    }
    return at;
  }
}

/** Primary ports first (in order), then the rest by weighted DRR. */
export class StrictPriority implements TxPolicy {
  readonly name = 'strict' as const;
  private readonly primaries: readonly Port[];
  /** The primaries with a rate limit (only these can have a time to wait for). */
  private readonly limitedPrimaries: readonly Port[];
  private readonly rest: DeficitRoundRobin;

  constructor(ports: readonly Port[]) {
    this.primaries = ports.filter((p) => p.primary);
    this.limitedPrimaries = this.primaries.filter((p) => p.bucket !== undefined);
    for (const p of this.primaries) p.onTxActive = undefined;
    this.rest = new DeficitRoundRobin(ports.filter((p) => !p.primary));
  }

  select(now: number): Port | undefined {
    const primaries = this.primaries;
    for (let i = 0; i < primaries.length; i++) if (eligible(primaries[i]!, now)) return primaries[i];
    return this.rest.select(now);
  }

  pending(now: number): boolean {
    const primaries = this.primaries;
    for (let i = 0; i < primaries.length; i++) {
      const p = primaries[i]!;
      const head = p.tx.peek();
      if (head !== undefined && (!p.bucket || p.bucket.allows(head.length, now))) return true;
    }
    return this.rest.pending(now);
  }

  nextReadyAt(now: number): number {
    let at = this.rest.nextReadyAt(now);
    const limited = this.limitedPrimaries;
    for (let i = 0; i < limited.length; i++) {
      const p = limited[i]!;
      const head = p.tx.peek();
      if (head !== undefined) at = Math.min(at, p.bucket!.readyAt(head.length, now));
    }
    return at;
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

  pending(now: number): boolean {
    return this.drr.pending(now);
  }

  nextReadyAt(now: number): number {
    return this.drr.nextReadyAt(now);
  }
}

export function makeTxPolicy(name: TxPolicyName, ports: readonly Port[]): TxPolicy {
  return name === 'strict' ? new StrictPriority(ports) : new WeightedShare(ports);
}
