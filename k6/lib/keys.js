// Gateway keys. API_KEY (or API_KEYS=a,b,c, one per VU round-robin) is sent as
// `Authorization: Bearer`; with neither set no auth header is sent (e.g. straight to the
// simulator, which needs none).
import { envStr } from './config.js';

const KEYS = envStr('API_KEYS', envStr('API_KEY', ''))
  .split(',')
  .map((k) => k.trim())
  .filter((k) => k.length > 0);

export function hasKey() {
  return KEYS.length > 0;
}

// The key of the current VU (stable for the VU's life); `vu` is exec.vu.idInTest or 0.
export function keyFor(vu) {
  if (KEYS.length === 0) return '';
  return KEYS[(vu || 0) % KEYS.length];
}

export function headers(key) {
  const out = { 'Content-Type': 'application/json' };
  if (key) out.Authorization = `Bearer ${key}`;
  return out;
}
