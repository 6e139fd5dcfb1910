// One request of a mixed workload: a share STREAM_SHARE (0..1) of chat calls stream.
import exec from 'k6/execution';
import { envFloat } from './config.js';
import { chatCompletion, chatStream } from './client.js';
import { keyFor } from './keys.js';
import { chat } from './payloads.js';

const STREAM_SHARE = envFloat('STREAM_SHARE', 0.2);
const CHAT = chat();
const STREAM = chat({ stream: true });

export function mixedRequest() {
  const key = keyFor(exec.vu.idInTest);
  // Deterministic interleaving (not Math.random): the same run sends the same mix.
  const n = exec.scenario.iterationInTest;
  if (STREAM_SHARE > 0 && Math.floor((n + 1) * STREAM_SHARE) > Math.floor(n * STREAM_SHARE)) {
    return chatStream(key, STREAM);
  }
  return chatCompletion(key, CHAT);
}
