// machine/: the simulated hardware. One processor (the Node main thread, woken by interrupts
// and timers) and one NIC (bounded RX/TX rings, line rate, an interrupt line) attached to one
// link. It may import wire/ and link/; it never reads the system clock (a Clock is injected)
// and knows nothing of operating systems.
export * from './clock.js';
export * from './ring.js';
export * from './nic.js';
export * from './processor.js';
