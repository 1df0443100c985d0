// mulberry32: a small seeded PRNG for fuzz tests, so a failing case can be replayed from its seed.
// One implementation, shared with the fault-injecting link (src/link/fault.ts).
export { seededRandom as prng } from '../src/link/fault.js';
