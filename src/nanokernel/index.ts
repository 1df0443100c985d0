// nanokernel/: owns the processor and the NIC. The scheduler runs the OS domains (the primary
// preempts the secondary at unit boundaries; secondaries run in bounded quanta); virt-rx
// demultiplexes received frames to ports by destination MAC; virt-tx arbitrates transmission by a
// swappable policy, enforces source addresses and delivers guest to guest; the services are the
// guests' hypercalls; the switch holds the port table, counters and the one drop path. It may
// import wire/ and machine/; it knows a guest only as a GuestOs and a Port, never its internals.
export * from './guest-interface.js';
export * from './port.js';
export * from './switch.js';
export * from './arbiter.js';
export * from './token-bucket.js';
export * from './source-guard.js';
export * from './scheduler.js';
export * from './virt-rx.js';
export * from './virt-tx.js';
export * from './services.js';
export * from './snapshot.js';
export * from './nanokernel.js';
