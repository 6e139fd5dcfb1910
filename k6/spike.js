// Spike: a steady BASE rate, a sudden jump to SPIKE for SPIKE_FOR, back to BASE; the
// gateway must absorb it and recover (errors stay low, latency returns after).
//
//   uv run k6 run -e BASE_URL=http://127.0.0.1:8080/v1 -e API_KEY=sk-gw-... k6/spike.js
//
// BASE (20/s), SPIKE (400/s), SPIKE_FOR (20s), CALM (20s before and after),
// STREAM_SHARE (0.2), MAX_VUS (400).
import { envInt, envStr, TREND_STATS } from './lib/config.js';
import { mixedRequest } from './lib/mix.js';
import { requireModel } from './lib/models.js';
import { summaryHandler } from './lib/summary.js';
import { thresholds } from './lib/thresholds.js';

const BASE = envInt('BASE', 20);
const SPIKE = envInt('SPIKE', 400);
const CALM = envStr('CALM', '20s');

export const options = {
  scenarios: {
    spike: {
      executor: 'ramping-arrival-rate',
      startRate: BASE,
      timeUnit: '1s',
      preAllocatedVUs: 50,
      maxVUs: envInt('MAX_VUS', 400),
      stages: [
        { target: BASE, duration: CALM },
        { target: SPIKE, duration: '2s' },
        { target: SPIKE, duration: envStr('SPIKE_FOR', '20s') },
        { target: BASE, duration: '2s' },
        { target: BASE, duration: CALM },
      ],
    },
  },
  thresholds: thresholds({ names: ['chat', 'chat_stream'], p95: 1500, p99: 3000, errorRate: 0.02 }),
  summaryTrendStats: TREND_STATS,
};

export function setup() {
  requireModel();
}

export default function () {
  mixedRequest();
}

export const handleSummary = summaryHandler('spike');
