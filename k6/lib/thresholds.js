// Pass/fail criteria shared by the suites. Every bound can be overridden at run time
// (P95_MS, P99_MS, MAX_ERROR_RATE, MIN_CHECKS), so one script serves a laptop and CI.
import { envFloat } from './config.js';

export function thresholds({ names = ['chat'], p95 = 500, p99 = 1000, errorRate = 0.01 } = {}) {
  const p95Ms = envFloat('P95_MS', p95);
  const p99Ms = envFloat('P99_MS', p99);
  const out = {
    gateway_errors: [`rate<${envFloat('MAX_ERROR_RATE', errorRate)}`],
    checks: [`rate>${envFloat('MIN_CHECKS', 0.99)}`],
  };
  for (const name of names) {
    out[`http_req_duration{name:${name}}`] = [`p(95)<${p95Ms}`, `p(99)<${p99Ms}`];
  }
  return out;
}

// Streams: time to first byte and whole-stream bounds (TTFB_P95_MS, TTFB_P99_MS).
export function streamThresholds({ ttfbP95 = 300, ttfbP99 = 800, totalP95 = 1500 } = {}) {
  return {
    ttfb: [
      `p(95)<${envFloat('TTFB_P95_MS', ttfbP95)}`,
      `p(99)<${envFloat('TTFB_P99_MS', ttfbP99)}`,
    ],
    stream_total: [`p(95)<${envFloat('STREAM_P95_MS', totalP95)}`],
  };
}
