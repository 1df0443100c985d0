// os/: the guest OS personalities. A small kernel (tasks, timers, virtual interrupt handlers),
// the virtual NIC driver that talks to the nanokernel, the rtos and gpos built from them, and
// their services (UDP echo, the rtos's periodic control task; on the gpos TCP echo and the HTTP status page). It may import net/, wire/ and the
// nanokernel's guest-facing interface only; it never touches Node's I/O or the system clock.
export * from './kernel.js';
export * from './driver.js';
export * from './latency.js';
export * from './guest.js';
export * from './services/echo.js';
export * from './services/control.js';
export * from './services/load.js';
export * from './services/http.js';
export * from './services/tcp-echo.js';
export * from './services/tcp-bulk.js';
