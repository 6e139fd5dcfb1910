// Fixed concurrency for `gateway bench`: VUS clients, each sending one request after
// another for DURATION. Measures only; the benchmark compares the summaries.
//
//   uv run k6 run -e BASE_URL=http://127.0.0.1:8080/v1 -e API_KEY=sk-gw-... -e VUS=10 k6/bench.js
//
// VUS (1), DURATION (10s), STREAM (false), MODEL (sim-chat; `sim-model` straight to the
// simulator), MAX_TOKENS (16), API (chat; `responses` or `messages`: the same question
// through the gateway's bridges, non-streamed). No setup request: the same script runs
// against the simulator, the floor hops and the gateway.
import { check } from 'k6';
import http from 'k6/http';
import { BASE_URL, envBool, envInt, envStr, REQUEST_TIMEOUT, TREND_STATS } from './lib/config.js';
import { gatewayErrors, streamTotal, ttfb } from './lib/client.js';
import { headers, keyFor } from './lib/keys.js';
import { chat, messages, responses } from './lib/payloads.js';
import { summaryHandler } from './lib/summary.js';

const STREAM = envBool('STREAM', false);

export const options = {
  scenarios: {
    bench: {
      executor: 'constant-vus',
      vus: envInt('VUS', 1),
      duration: envStr('DURATION', '10s'),
      gracefulStop: '5s',
    },
  },
  summaryTrendStats: TREND_STATS,
  // No thresholds: a benchmark reports, the suites judge.
};

const API = envStr('API', 'chat');
const CALLS = {
  chat: ['chat/completions', () => chat({ stream: STREAM })],
  responses: ['responses', () => responses()],
  messages: ['messages', () => messages()],
};
if (!(API in CALLS)) throw new Error(`API must be one of ${Object.keys(CALLS)}, not ${API}`);
const URL = `${BASE_URL}/${CALLS[API][0]}`;
const BODY = CALLS[API][1]();
const PARAMS = {
  headers: headers(keyFor(0)),
  timeout: REQUEST_TIMEOUT,
  // Streams are read to check they ended; whole answers are only counted.
  responseType: STREAM ? 'text' : 'none',
  tags: { name: STREAM ? 'chat_stream' : API },
};

export default function () {
  const res = http.post(URL, BODY, PARAMS);
  let ok = res.status === 200;
  if (STREAM) {
    ok = ok && typeof res.body === 'string' && res.body.includes('data: [DONE]');
    if (ok) {
      ttfb.add(res.timings.waiting);
      streamTotal.add(res.timings.duration);
    }
  }
  gatewayErrors.add(!ok);
  check(res, { ok: () => ok });
}

export const handleSummary = summaryHandler(envStr('SUITE', 'bench'));
