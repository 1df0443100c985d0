// link/: where the NIC's cable goes. One small interface (Link): send a frame, receive batches,
// close, errors as events. `memory` and `fault` (drops, delays, reorders, duplicates) are for tests; `tap` (Linux, native addon) is the real cable;
// `vxlan` is Ethernet in UDP (RFC 7348) to other hosts.
// It may import wire/; it is one of the few layers that touches Node's I/O.
export * from './link.js';
export * from './fault.js';
export * from './memory.js';
