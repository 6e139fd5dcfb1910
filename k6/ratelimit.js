// Rate limit: send RATE requests/s for DURATION with a key whose plan allows RPM
// requests per minute; the share of 429 answers must match what the plan allows, within
// TOLERANCE (absolute share, default 0.05).
//
//   uv run gateway keys create rl-test --rpm 60
//   uv run k6 run -e BASE_URL=http://127.0.0.1:8080/v1 -e API_KEY=sk-gw-... -e RPM=60 k6/ratelimit.js
//
// RATE (5/s), DURATION (30s), RPM (required: the key's plan), WINDOW_SECONDS (60: the
// policy's sliding window). Use a key that sent nothing in the last window: earlier
// requests still count. The expected count is exact for a sliding log: the requests
// arrive at i/RATE and each is admitted when fewer than RPM were admitted in the window.
import exec from 'k6/execution';
import { check } from 'k6';
import http from 'k6/http';
import { Counter, Rate } from 'k6/metrics';
import { envFloat, envInt, envStr, TREND_STATS } from './lib/config.js';
import { chatCompletion } from './lib/client.js';
import { keyFor } from './lib/keys.js';
import { chat } from './lib/payloads.js';
import { summaryHandler } from './lib/summary.js';

const RATE = envInt('RATE', 5);
const DURATION = envStr('DURATION', '30s');
const RPM = envInt('RPM', 0);
const WINDOW = envFloat('WINDOW_SECONDS', 60);
const TOLERANCE = envFloat('TOLERANCE', 0.05);
if (RPM <= 0) throw new Error('set RPM to the key plan: -e RPM=<requests per minute>');

function seconds(duration) {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(duration);
  if (!match) throw new Error(`DURATION must look like 30s, 2m: got ${duration}`);
  return parseFloat(match[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2]];
}

// Requests admitted out of `total` sent evenly over `span` seconds by a sliding log.
export function expectedAdmitted(total, span, rpm, window) {
  const admitted = [];
  for (let i = 0; i < total; i++) {
    const t = (i * span) / total;
    while (admitted.length > 0 && admitted[0] <= t - window) admitted.shift();
    if (admitted.length < rpm) admitted.push(t);
  }
  return admitted.length;
}

const SPAN = seconds(DURATION);
const PLANNED = Math.round(RATE * SPAN);
const EXPECTED_SHARE = PLANNED > 0 ? 1 - expectedAdmitted(PLANNED, SPAN, RPM, WINDOW) / PLANNED : 0;

const limited = new Rate('rl_limited');
const okCount = new Counter('rl_ok');
const limitedCount = new Counter('rl_429');

export const options = {
  scenarios: {
    ratelimit: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: Math.max(5, RATE),
      maxVUs: Math.max(20, RATE * 4),
    },
  },
  thresholds: {
    rl_limited: [
      `rate>=${Math.max(0, EXPECTED_SHARE - TOLERANCE)}`,
      `rate<=${Math.min(1, EXPECTED_SHARE + TOLERANCE)}`,
    ],
    gateway_errors: ['rate==0'],
    checks: ['rate==1'],
    dropped_iterations: ['count==0'],
  },
  summaryTrendStats: TREND_STATS,
};

const BODY = chat({ maxTokens: 1 });
http.setResponseCallback(http.expectedStatuses(200, 429));

export default function () {
  const res = chatCompletion(keyFor(exec.vu.idInTest), BODY, { allowed: [200, 429] });
  check(res, {
    'ratelimit: plan limit in headers': (r) => r.headers['X-Ratelimit-Limit-Requests'] === String(RPM),
  });
  if (res.status === 429) {
    limitedCount.add(1);
    check(res, {
      'ratelimit: 429 is rate_limit_exceeded': (r) => r.json('error.code') === 'rate_limit_exceeded',
      'ratelimit: 429 has retry-after': (r) => Number(r.headers['Retry-After']) > 0,
    });
  } else if (res.status === 200) {
    okCount.add(1);
  }
  limited.add(res.status === 429);
}

export const handleSummary = summaryHandler('ratelimit', (data) => {
  const ok = data.metrics.rl_ok ? data.metrics.rl_ok.values.count : 0;
  const rejected = data.metrics.rl_429 ? data.metrics.rl_429.values.count : 0;
  const sent = ok + rejected;
  const expectedOk = sent > 0 ? expectedAdmitted(sent, SPAN, RPM, WINDOW) : 0;
  return {
    rate_limit: {
      rpm: RPM,
      window_seconds: WINDOW,
      sent,
      admitted: ok,
      rejected,
      expected_admitted: expectedOk,
      observed_429_share: sent > 0 ? rejected / sent : 0,
      expected_429_share: sent > 0 ? 1 - expectedOk / sent : 0,
      tolerance: TOLERANCE,
    },
  };
});
