// Writes schema/nanoshare.schema.json from the one schema in src/board/schema.ts (built to dist/),
// so editors can validate and complete config files, and src/board/compiled-schema.ts, the schema
// compiled ahead of time that `nanoshare run` checks configs with (without loading TypeBox).
// `npm run schema`; src/board/schema.test.ts fails while either committed file differs from what
// this writes.
import { writeFileSync } from 'node:fs';
import { compiledSchemaModule, schemaDocument } from '../dist/board/schema.js';

const out = new URL('../schema/nanoshare.schema.json', import.meta.url);
writeFileSync(out, `${JSON.stringify(schemaDocument(), null, 2)}\n`);
process.stdout.write(`wrote ${out.pathname}\n`);
const compiled = new URL('../src/board/compiled-schema.ts', import.meta.url);
writeFileSync(compiled, compiledSchemaModule());
process.stdout.write(`wrote ${compiled.pathname}\n`);
