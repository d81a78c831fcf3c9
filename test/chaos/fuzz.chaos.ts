import { defineFuzzSuite } from '../helpers/fuzz-suite.js';

// The full hostile-input run of `npm run test:chaos`: about 13,500 cases over every REST
// route and the ws protocol (5 route groups, invalid UTF-8 and non-JSON Content-Types ×
// 1,700 + 1,500 ws frames, plus the header and query sub-properties).
defineFuzzSuite({ http: 1700, ws: 1500 });
