import { expandRowGroups } from './row-groups.js';

/**
 * Sizes of a benchmark run. `--quick` (~2–3 minutes) scales counts and durations down and
 * says so in every row's notes; a full run (~15 minutes) uses the figures.
 */
export interface BenchOptions {
  quick: boolean;
  /** Write CPU profiles of the API and daemon processes (`--profile`). */
  profile: boolean;
  /** Run only these row ids (`--only=a,b`; a group such as `cluster` stands for its rows); empty = all. */
  only: string[];
  /** Rounds per scenario (the median is reported); `--rounds=N` sets it. */
  rounds: number;
  /** Whether `--rounds=N` replaced the default of the mode (such a run is not a full run). */
  roundsGiven: boolean;
  /** Rounds of the scenarios that take a minute or more per round (bursts, persistence, idle cost). */
  heavyRounds: number;
  /** Messages in the expiry-throughput burst (issue: 100,000). */
  burstCount: number;
  /** Expirations per second in the lag scenarios (issue: 10,000). */
  lagRate: number;
  /** Seconds of the lag scenarios' window (issue: 30). */
  lagSeconds: number;
  /** Rounds of the 30 s lag scenarios (each costs a minute and more). */
  lagRounds: number;
  /** Unrelated 1-hour keys in expiry-lag-background (issue: 500,000). */
  backgroundKeys: number;
  /** How long past a deadline the plain subscriber may deliver and still count (issue: 60 s). */
  deliveryWindowSeconds: number;
  /** Messages persisted in expiry-persist (issue: 100,000). */
  persistCount: number;
  /** Cached keys during seed-poll-cost (issue: 1,000,000). */
  pollKeys: number;
  /** Seconds of idle polling measured in each round of seed-poll-cost (and of Redis idle). */
  pollSeconds: number;
  /** Rounds of seed-poll-cost (the median is reported). */
  pollRounds: number;
  /** Seconds of each HTTP load run (after a warm-up). */
  httpSeconds: number;
  /** Connections of the HTTP load runs (issue: 50). */
  connections: number;
  /** Sockets of ws-fanout (issue: 1,000). */
  sockets: number;
  /** Messages cached in cache-memory (issue: 100,000). */
  memoryCount: number;
}

/** Parses `process.argv`-style arguments. */
export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const profile = argv.includes('--profile');
  const onlyArg = argv.find((a) => a.startsWith('--only='));
  const rounds = roundsOption(argv);
  const only = onlyArg
    ? expandRowGroups(onlyArg.slice('--only='.length).split(',').filter(Boolean))
    : [];
  if (quick) {
    return {
      quick,
      profile,
      only,
      rounds: rounds ?? 2,
      roundsGiven: rounds !== undefined,
      heavyRounds: 1,
      burstCount: 20000,
      lagRate: 2000,
      lagSeconds: 5,
      lagRounds: 1,
      backgroundKeys: 100000,
      deliveryWindowSeconds: 10,
      persistCount: 10000,
      pollKeys: 200000,
      pollSeconds: 5,
      pollRounds: 2,
      httpSeconds: 3,
      connections: 50,
      sockets: 200,
      memoryCount: 20000,
    };
  }
  return {
    quick,
    profile,
    only,
    rounds: rounds ?? 3,
    roundsGiven: rounds !== undefined,
    heavyRounds: 2,
    burstCount: 100000,
    lagRate: 10000,
    lagSeconds: 30,
    lagRounds: 2,
    backgroundKeys: 500000,
    deliveryWindowSeconds: 60,
    persistCount: 100000,
    pollKeys: 1000000,
    pollSeconds: 15,
    pollRounds: 5,
    httpSeconds: 6,
    connections: 50,
    sockets: 1000,
    memoryCount: 100000,
  };
}

/**
 * `--rounds=N` (1–50): more rounds of the scenarios that take `rounds`, for a steadier
 * median on a noisy host. @throws Error on another value
 */
function roundsOption(argv: readonly string[]): number | undefined {
  const arg = argv.find((a) => a.startsWith('--rounds='));
  if (arg === undefined) return undefined;
  const text = arg.slice('--rounds='.length);
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 50) {
    throw new Error(`--rounds: expected a whole number from 1 to 50, got "${text}"`);
  }
  return n;
}
