// Soak: a moderate constant arrival rate for a long time; latency and errors must stay
// flat (memory is watched by `gateway bench --soak`, which samples each tier's RSS).
//
//   uv run k6 run -e BASE_URL=http://127.0.0.1:8080/v1 -e API_KEY=sk-gw-... k6/soak.js
//
// RATE (50/s), DURATION (5m), STREAM_SHARE (0.2), MAX_VUS (100).
import { envInt, envStr, TREND_STATS } from './lib/config.js';
import { mixedRequest } from './lib/mix.js';
import { requireModel } from './lib/models.js';
import { summaryHandler } from './lib/summary.js';
import { streamThresholds, thresholds } from './lib/thresholds.js';

const RATE = envInt('RATE', 50);

export const options = {
  scenarios: {
    soak: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: envStr('DURATION', '5m'),
      preAllocatedVUs: Math.max(10, Math.ceil(RATE / 5)),
      maxVUs: envInt('MAX_VUS', 100),
    },
  },
  thresholds: {
    ...thresholds({ names: ['chat', 'chat_stream'], p95: 250, p99: 500, errorRate: 0.001 }),
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

export const handleSummary = summaryHandler('soak');
