// End-of-test output: a short text summary on stdout and the whole k6 summary as JSON
// (SUMMARY=path, default k6/results/<suite>.json), which the benchmark and tests read.
import { envStr } from './config.js';

function fmt(value, time) {
  if (value === undefined || value === null) return '-';
  if (!time) return Number.isInteger(value) ? String(value) : value.toFixed(3);
  return value >= 1000 ? `${(value / 1000).toFixed(2)}s` : `${value.toFixed(2)}ms`;
}

function line(name, metric) {
  const v = metric.values;
  const time = metric.contains === 'time';
  if (metric.type === 'trend') {
    return `  ${name}: med=${fmt(v.med, time)} p(95)=${fmt(v['p(95)'], time)} p(99)=${fmt(
      v['p(99)'],
      time,
    )} max=${fmt(v.max, time)} n=${fmt(v.count)}`;
  }
  if (metric.type === 'rate') return `  ${name}: ${(v.rate * 100).toFixed(2)}% (${v.passes}/${v.passes + v.fails})`;
  if (metric.type === 'counter') return `  ${name}: ${v.count} (${v.rate.toFixed(1)}/s)`;
  return `  ${name}: ${JSON.stringify(v)}`;
}

export function failedThresholds(data) {
  const failed = [];
  for (const [name, metric] of Object.entries(data.metrics)) {
    for (const [expr, result] of Object.entries(metric.thresholds || {})) {
      if (!result.ok) failed.push(`${name} ${expr}`);
    }
  }
  return failed;
}

const SHOWN = ['http_reqs', 'iterations', 'ttfb', 'stream_total', 'gateway_errors', 'checks'];

function rank(name) {
  if (name.startsWith('http_req_duration')) return 2;
  if (name.startsWith('rl_')) return 5;
  const i = SHOWN.indexOf(name);
  return i < 2 ? i : i + 1;
}

export function summaryHandler(suite, extra = () => ({})) {
  return function handleSummary(data) {
    const path = envStr('SUMMARY', `k6/results/${suite}.json`);
    const failed = failedThresholds(data);
    const lines = [`\n${suite}: ${failed.length === 0 ? 'all thresholds passed' : 'FAILED'}`];
    const names = Object.keys(data.metrics)
      .filter((n) => SHOWN.includes(n) || n.startsWith('http_req_duration{name:') || n.startsWith('rl_'))
      .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    for (const name of names) lines.push(line(name, data.metrics[name]));
    for (const f of failed) lines.push(`  ✗ threshold ${f}`);
    const more = extra(data);
    for (const [key, value] of Object.entries(more)) lines.push(`  ${key}: ${JSON.stringify(value)}`);
    lines.push(`  summary: ${path}\n`);
    data.gateway = { suite, failed_thresholds: failed, ...more };
    return { stdout: lines.join('\n'), [path]: JSON.stringify(data, null, 1) };
  };
}
