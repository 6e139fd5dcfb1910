// The calls the suites make, with their checks and metrics.
//
// Metrics beyond k6's built-ins:
//   gateway_errors   Rate of calls that failed (any status but 200, or a broken stream);
//                    429s are errors here except in the rate-limit suite, which counts
//                    them separately.
//   ttfb             Trend: time to first byte of a stream (k6's http_req_waiting).
//   stream_total     Trend: the whole stream, first request byte to `data: [DONE]`.
//
// k6 reads a response whole before returning it, so a stream's first chunk cannot be
// timed separately from its headers: the gateway sends a stream's headers together with
// its first chunk, so time to first byte is time to first token for a zero-latency
// provider.
import http from 'k6/http';
import { check } from 'k6';
import { Rate, Trend } from 'k6/metrics';
import { BASE_URL, REQUEST_TIMEOUT } from './config.js';
import { headers } from './keys.js';

export const gatewayErrors = new Rate('gateway_errors');
export const ttfb = new Trend('ttfb', true);
export const streamTotal = new Trend('stream_total', true);

function params(key, name, extra = {}) {
  return {
    headers: headers(key),
    timeout: REQUEST_TIMEOUT,
    tags: { name },
    ...extra,
  };
}

function errorCode(res) {
  try {
    return res.json('error.code');
  } catch (_) {
    return undefined;
  }
}

// POST /chat/completions (not streaming). `allowed` lists statuses that are not errors.
export function chatCompletion(key, body, { allowed = [200], name = 'chat' } = {}) {
  const res = http.post(`${BASE_URL}/chat/completions`, body, params(key, name));
  const ok = check(res, {
    'chat: expected status': (r) => allowed.includes(r.status),
    'chat: a choice or an OpenAI error': (r) => {
      if (r.status === 200) {
        const content = r.json('choices.0.message.content');
        return typeof content === 'string' && content.length > 0;
      }
      return typeof errorCode(r) === 'string';
    },
  });
  gatewayErrors.add(!ok);
  return res;
}

// POST /chat/completions with stream=true: the body must be an event stream that ends
// with `data: [DONE]` and carries no error event.
export function chatStream(key, body, { name = 'chat_stream' } = {}) {
  const res = http.post(`${BASE_URL}/chat/completions`, body, params(key, name));
  const text = typeof res.body === 'string' ? res.body : '';
  const ok = check(res, {
    'stream: status 200': (r) => r.status === 200,
    'stream: text/event-stream': (r) =>
      String(r.headers['Content-Type'] || '').startsWith('text/event-stream'),
    'stream: ends with [DONE]': () => text.includes('data: [DONE]'),
    'stream: no error event': () => !text.includes('"error"'),
  });
  gatewayErrors.add(!ok);
  if (res.status === 200) {
    ttfb.add(res.timings.waiting);
    streamTotal.add(res.timings.duration);
  }
  return res;
}

export function embeddings(key, body, { name = 'embeddings' } = {}) {
  const res = http.post(`${BASE_URL}/embeddings`, body, params(key, name));
  const ok = check(res, {
    'embeddings: status 200': (r) => r.status === 200,
    'embeddings: a vector': (r) => r.status === 200 && Array.isArray(r.json('data.0.embedding')),
  });
  gatewayErrors.add(!ok);
  return res;
}

export function listModels(key, { name = 'models' } = {}) {
  const res = http.get(`${BASE_URL}/models`, params(key, name));
  const ok = check(res, {
    'models: status 200': (r) => r.status === 200,
    'models: a list': (r) => r.status === 200 && r.json('object') === 'list',
  });
  gatewayErrors.add(!ok);
  return res;
}
