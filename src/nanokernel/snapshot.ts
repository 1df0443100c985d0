// A typed, JSON-friendly snapshot of every counter the nanokernel keeps: the processor's
// accounting, the switch, the NIC and its link, and per domain its processor time and its port.
// `nanoshare stats`, the stats log line and the metrics read this shape.
import type { Nic, NicCounters } from '../machine/nic.js';
import type { Role } from './guest-interface.js';
import type { PortCounters } from './port.js';
import type { DomainStats, SchedulerOptions } from './scheduler.js';
import type { SwitchCounters } from './switch.js';
import type { TxPolicyName } from './arbiter.js';

export type PortSnapshot = PortCounters & {
  /** Frames waiting in the RX ring now. */
  rxQueued: number;
  /** Frames waiting in the TX queue now. */
  txQueued: number;
};

export interface DomainSnapshot {
  name: string;
  role: Role;
  /** A halted guest never runs again (its policy after a fault, or a fault while booting). */
  state: 'running' | 'halted';
  weight: number;
  rateBps: number | undefined;
  cpu: DomainStats;
  port: PortSnapshot;
}

export interface NanokernelSnapshot {
  uptimeUs: number;
  txPolicy: TxPolicyName;
  scheduler: SchedulerOptions;
  processor: { kernelUs: number; runs: number; wakeups: number };
  switch: SwitchCounters;
  nic: NicCounters;
  /** The NIC's cable (the nanokernel reaches link/ only through machine/). */
  link: Nic['link']['stats'] & { name: string };
  domains: DomainSnapshot[];
}
