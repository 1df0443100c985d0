// Vitest setup (vitest.config.ts, vitest.mutate.config.ts): the tests build configs in-process and
// check the lines bad ones give, so they load what describes a config the compiled schema check
// refused (board/schema-errors.ts), as `nanoshare` does at its first refused config.
import '../src/board/schema-errors.js';
