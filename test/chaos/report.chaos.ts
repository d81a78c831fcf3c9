import { formatTable, recorded, RESULTS_FILE } from '../helpers/stack/figures.js';

// A root hook: after every chaos file ran, the figures of this run as one table (the
// README's Reliability section is made from it).
after(() => {
  if (recorded.length === 0) return;
  console.log(`\nReliability figures (also in ${RESULTS_FILE}):\n\n${formatTable(recorded)}\n`);
});
