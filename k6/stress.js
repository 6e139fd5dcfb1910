// Stress: arrival rate stepped past the expected capacity (PEAK, default 600/s) to find
// where latency and errors break; the bounds are loose, the numbers are the point.
//
//   uv run k6 run -e BASE_URL=http://127.0.0.1:8080/v1 -e API_KEY=sk-gw-... k6/stress.js
//
// PEAK (600/s), STEP (20s per step), STREAM_SHARE (0.2), MAX_VUS (400).
import { envInt, envStr, TREND_STATS } from './lib/config.js';
import { mixedRequest } from './lib/mix.js';
import { requireModel } from './lib/models.js';
import { summaryHandler } from './lib/summary.js';
import { thresholds } from './lib/thresholds.js';

const PEAK = envInt('PEAK', 600);
const STEP = envStr('STEP', '20s');
const stages = [];
for (const share of [0.25, 0.5, 0.75, 1.0]) {
  const target = Math.max(1, Math.round(PEAK * share));
  stages.push({ target, duration: '5s' }, { target, duration: STEP });
}
stages.push({ target: 0, duration: '10s' });

export const options = {
  scenarios: {
    stress: {
      executor: 'ramping-arrival-rate',
      startRate: 1,
      timeUnit: '1s',
      preAllocatedVUs: 50,
      maxVUs: envInt('MAX_VUS', 400),
      stages,
    },
  },
  thresholds: thresholds({ names: ['chat', 'chat_stream'], p95: 2000, p99: 5000, errorRate: 0.05 }),
  summaryTrendStats: TREND_STATS,
};

export function setup() {
  requireModel();
}

export default function () {
  mixedRequest();
}

export const handleSummary = summaryHandler('stress');
