// Shared helpers of the k6 scripts: where the service is, the token, and a
// summary that lands in bench/out/ (JSON for machines, a short text on
// stdout) — no remote jslib, these machines reach no CDN.
import http from 'k6/http';

export const BASE = __ENV.BASE_URL || 'http://127.0.0.1:8080';
export const TOKEN = __ENV.TOKEN || '';
export const OUT = __ENV.OUT_DIR || 'bench/out';

// p(99) is not in k6's default summary; the thresholds and the bench table need it.
export const trendStats = ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'];

export const authHeaders = { Authorization: `Bearer ${TOKEN}` };
export const jsonHeaders = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' };

// A tiny PNG: the service judges the type by these bytes.
export function pngBytes(size = 2048) {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52];
  const b = new Uint8Array(Math.max(size, sig.length));
  b.set(sig);
  for (let i = sig.length; i < b.length; i++) b[i] = (i * 31) & 0xff;
  return b.buffer;
}

export function upload(size) {
  const res = http.post(`${BASE}/api/v1/admin/imagenes/subir`,
    { imagen: http.file(pngBytes(size), 'k6.png', 'image/png') },
    { headers: authHeaders, tags: { name: 'POST /api/v1/admin/imagenes/subir' } });
  return res;
}

function ms(v) { return v === undefined ? '-' : `${v.toFixed(1)} ms`; }

// summary writes bench/out/<name>.json and prints the figures that matter.
export function summary(name, data) {
  const m = data.metrics;
  const d = m.http_req_duration ? m.http_req_duration.values : {};
  const reqs = m.http_reqs ? m.http_reqs.values : { count: 0, rate: 0 };
  const failed = m.http_req_failed ? m.http_req_failed.values.rate : 0;
  const th = Object.entries(data.metrics)
    .flatMap(([k, v]) => Object.entries(v.thresholds || {}).map(([t, r]) => `  ${r.ok ? 'ok  ' : 'FAIL'} ${k} ${t}`));
  const text = [
    `${name}: ${reqs.count} requests, ${reqs.rate.toFixed(1)} req/s, failed ${(failed * 100).toFixed(2)}%`,
    `  latency p50 ${ms(d.med)}  p90 ${ms(d['p(90)'])}  p99 ${ms(d['p(99)'])}  max ${ms(d.max)}`,
    ...th, '',
  ].join('\n');
  return { [`${OUT}/${name}.json`]: JSON.stringify(data, null, 1), stdout: text };
}

// deleteOptions is the shared shape of the delete scripts: ITERATIONS
// distinct ids from FIRST, VUS clients, no failures, p99 under P99_MS.
export function deleteOptions() {
  return {
    summaryTrendStats: trendStats,
    scenarios: {
      deletes: {
        executor: 'shared-iterations',
        vus: parseInt(__ENV.VUS || '32', 10),
        iterations: parseInt(__ENV.ITERATIONS || '10000', 10),
        maxDuration: '5m',
      },
    },
    thresholds: {
      http_req_failed: ['rate==0'],
      checks: ['rate==1'],
      http_req_duration: [`p(99)<${__ENV.P99_MS || 250}`],
    },
  };
}

export const FIRST = parseInt(__ENV.FIRST || '1', 10);
