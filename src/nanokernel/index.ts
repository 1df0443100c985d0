// nanokernel/: owns the processor and the NIC. Schedules the OS domains (the primary preempts
// the secondary at unit boundaries; secondaries run in bounded quanta), virtualizes interrupts,
// and shares the NIC: RX demux by destination MAC, TX arbitration by a swappable policy,
// source-address enforcement, guest-to-guest delivery, counters. It may import wire/ and
// machine/; it knows a guest only as a GuestOs and a Port, never its internals.
export * from './guest-interface.js';
export * from './port.js';
export * from './demux.js';
export * from './arbiter.js';
export * from './token-bucket.js';
export * from './source-guard.js';
export * from './nanokernel.js';
