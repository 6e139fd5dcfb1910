// Streaming: VUS clients each streaming one answer after another; time to first byte
// (`ttfb`) and the whole stream (`stream_total`) are the measures.
//
//   uv run k6 run -e BASE_URL=http://127.0.0.1:8080/v1 -e API_KEY=sk-gw-... k6/streaming.js
//
// VUS (10), DURATION (30s), MAX_TOKENS (16); TTFB_P95_MS (250), TTFB_P99_MS (500),
// STREAM_P95_MS (500).
import exec from 'k6/execution';
import { envInt, envStr, TREND_STATS } from './lib/config.js';
import { chatStream } from './lib/client.js';
import { keyFor } from './lib/keys.js';
import { requireModel } from './lib/models.js';
import { chat } from './lib/payloads.js';
import { summaryHandler } from './lib/summary.js';
import { streamThresholds, thresholds } from './lib/thresholds.js';

export const options = {
  scenarios: {
    streaming: {
      executor: 'constant-vus',
      vus: envInt('VUS', 10),
      duration: envStr('DURATION', '30s'),
    },
  },
  thresholds: {
    ...thresholds({ names: ['chat_stream'], p95: 500, p99: 1000 }),
    ...streamThresholds({ ttfbP95: 250, ttfbP99: 500, totalP95: 500 }),
  },
  summaryTrendStats: TREND_STATS,
};

const STREAM = chat({ stream: true });

export function setup() {
  requireModel();
}

export default function () {
  chatStream(keyFor(exec.vu.idInTest), STREAM);
}

export const handleSummary = summaryHandler('streaming');
