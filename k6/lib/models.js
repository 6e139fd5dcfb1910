// Which models the suites call, and a check in setup() that the gateway serves them.
import http from 'k6/http';
import { BASE_URL, envStr } from './config.js';
import { headers, keyFor } from './keys.js';

export const CHAT_MODEL = envStr('MODEL', 'sim-chat');
export const EMBED_MODEL = envStr('EMBED_MODEL', 'sim-embed');

// Fails the run early (from setup) when the key cannot see the chat model: a
// misconfigured run should not look like a latency problem.
export function requireModel(model = CHAT_MODEL) {
  const res = http.get(`${BASE_URL}/models/${encodeURIComponent(model)}`, {
    headers: headers(keyFor(0)),
    tags: { name: 'setup_model' },
  });
  if (res.status !== 200) {
    throw new Error(`GET /models/${model} answered ${res.status}: ${String(res.body).slice(0, 300)}`);
  }
  return model;
}
