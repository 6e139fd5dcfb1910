// Run-time configuration shared by every suite: all of it comes from `-e NAME=value`.
//
//   BASE_URL   the OpenAI base URL, /v1 included   (default http://127.0.0.1:8080/v1)
//   API_KEY    a gateway key; API_KEYS=a,b,c spreads VUs over several keys
//   MODEL      chat model alias                     (default sim-chat)
//   SUMMARY    where the JSON summary goes          (default k6/results/<suite>.json)

export function envStr(name, fallback) {
  const value = __ENV[name];
  return value === undefined || value === '' ? fallback : value;
}

export function envInt(name, fallback) {
  const value = envStr(name, undefined);
  if (value === undefined) return fallback;
  const parsed = parseInt(value, 10);
  if (Number.isNaN(parsed)) throw new Error(`${name} must be an integer, got ${value}`);
  return parsed;
}

export function envFloat(name, fallback) {
  const value = envStr(name, undefined);
  if (value === undefined) return fallback;
  const parsed = parseFloat(value);
  if (Number.isNaN(parsed)) throw new Error(`${name} must be a number, got ${value}`);
  return parsed;
}

export function envBool(name, fallback) {
  const value = envStr(name, undefined);
  if (value === undefined) return fallback;
  return ['1', 'true', 'yes', 'on'].includes(value.toLowerCase());
}

export const BASE_URL = envStr('BASE_URL', 'http://127.0.0.1:8080/v1').replace(/\/+$/, '');
// Per-request timeout; generous, a hung request shows as an error rather than a stall.
export const REQUEST_TIMEOUT = envStr('REQUEST_TIMEOUT', '30s');

// Percentiles every suite reports (the benchmark reads med, p(95), p(99)).
export const TREND_STATS = ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max', 'count'];
