// POST /api/v1/admin/imagenes/subir with 2 KB PNGs (staged, sniffed, hashed,
// renamed into place, row committed).
//   TOKEN=... k6 run k6/upload.js
import { check } from 'k6';
import { upload, summary, trendStats } from './lib.js';

export const options = {
  summaryTrendStats: trendStats,
  vus: parseInt(__ENV.VUS || '16', 10),
  duration: __ENV.DURATION || '10s',
  thresholds: {
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
    http_req_duration: [`p(99)<${__ENV.P99_MS || 400}`],
  },
};

export default function () {
  const res = upload(2048);
  check(res, { 'uploaded (201)': (r) => r.status === 201 && r.json('id') > 0 });
}

export function handleSummary(data) { return summary('upload', data); }
