// Writes schema/nanoshare.schema.json from the one schema in src/board/schema.ts (built to dist/),
// so editors can validate and complete config files. `npm run schema`; src/board/schema.test.ts
// fails while the committed file differs from what this writes.
import { writeFileSync } from 'node:fs';
import { schemaDocument } from '../dist/board/schema.js';

const out = new URL('../schema/nanoshare.schema.json', import.meta.url);
writeFileSync(out, `${JSON.stringify(schemaDocument(), null, 2)}\n`);
process.stdout.write(`wrote ${out.pathname}\n`);
