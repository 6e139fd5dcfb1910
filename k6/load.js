// Load: a ramping arrival rate (open model: requests keep coming whether or not the
// gateway keeps up), held at RATE requests/s, then ramped down.
//
//   uv run k6 run -e BASE_URL=http://127.0.0.1:8080/v1 -e API_KEY=sk-gw-... k6/load.js
//
// RATE (100/s), RAMP (30s), HOLD (1m), STREAM_SHARE (0.2), MAX_VUS (200).
import { envInt, envStr, TREND_STATS } from './lib/config.js';
import { mixedRequest } from './lib/mix.js';
import { requireModel } from './lib/models.js';
import { summaryHandler } from './lib/summary.js';
import { streamThresholds, thresholds } from './lib/thresholds.js';

const RATE = envInt('RATE', 100);
const RAMP = envStr('RAMP', '30s');

export const options = {
  scenarios: {
    load: {
      executor: 'ramping-arrival-rate',
      startRate: 1,
      timeUnit: '1s',
      preAllocatedVUs: Math.min(envInt('MAX_VUS', 200), Math.max(10, RATE)),
      maxVUs: envInt('MAX_VUS', 200),
      stages: [
        { target: RATE, duration: RAMP },
        { target: RATE, duration: envStr('HOLD', '1m') },
        { target: 0, duration: envStr('RAMP_DOWN', '10s') },
      ],
    },
  },
  thresholds: {
    ...thresholds({ names: ['chat', 'chat_stream'], p95: 250, p99: 500 }),
    ...streamThresholds({ ttfbP95: 150, ttfbP99: 400, totalP95: 500 }),
    dropped_iterations: [`count<${envInt('MAX_DROPPED', 10)}`],
  },
  summaryTrendStats: TREND_STATS,
};

export function setup() {
  requireModel();
}

export default function () {
  mixedRequest();
}

export const handleSummary = summaryHandler('load');
