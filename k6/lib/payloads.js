// Request bodies, encoded once per VU (init code) rather than per iteration.
import { envInt } from './config.js';
import { CHAT_MODEL, EMBED_MODEL } from './models.js';

export const MAX_TOKENS = envInt('MAX_TOKENS', 16);

export function chat({ model = CHAT_MODEL, stream = false, maxTokens = MAX_TOKENS, prompt } = {}) {
  const body = {
    model,
    messages: [{ role: 'user', content: prompt || 'Say something about load testing.' }],
    max_tokens: maxTokens,
  };
  if (stream) {
    body.stream = true;
    body.stream_options = { include_usage: true };
  }
  return JSON.stringify(body);
}

// The same question through the Responses and Messages APIs, for the bridges' cost.
export function responses({ model = CHAT_MODEL, maxTokens = MAX_TOKENS } = {}) {
  return JSON.stringify({ model, input: 'Say something about load testing.', max_output_tokens: maxTokens });
}

export function messages({ model = CHAT_MODEL, maxTokens = MAX_TOKENS } = {}) {
  return JSON.stringify({
    model,
    messages: [{ role: 'user', content: 'Say something about load testing.' }],
    max_tokens: maxTokens,
  });
}

export function embedding({ model = EMBED_MODEL, input = 'load test input' } = {}) {
  return JSON.stringify({ model, input });
}
