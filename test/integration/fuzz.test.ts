import { defineFuzzSuite } from '../helpers/fuzz-suite.js';

// A few hundred hostile requests per route group (the full run, ~10,000 cases, is in
// `npm run test:chaos`: test/chaos/fuzz.chaos.ts). Seeded: FUZZ_SEED reproduces a run.
defineFuzzSuite({ http: 300, ws: 400 });
