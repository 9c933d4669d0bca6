// The whole life of an image: upload two → attach both to a new product →
// replace the set with one (the other goes to the trash) → restore it →
// delete the product (both to the trash). Every step's status is checked.
//   TOKEN=... k6 run k6/lifecycle.js
import http from 'k6/http';
import { check, fail } from 'k6';
import { BASE, authHeaders, jsonHeaders, upload, summary, trendStats } from './lib.js';

export const options = {
  summaryTrendStats: trendStats,
  vus: parseInt(__ENV.VUS || '8', 10),
  duration: __ENV.DURATION || '10s',
  thresholds: {
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
    http_req_duration: [`p(99)<${__ENV.P99_MS || 500}`],
  },
};

function must(res, want, what) {
  if (!check(res, { [`${what} (${want})`]: (r) => r.status === want })) {
    fail(`${what}: got ${res.status} ${res.body}`);
  }
  return res;
}

export default function () {
  const a = must(upload(2048), 201, 'upload').json('url');
  const b = must(upload(2048), 201, 'upload').json('url');
  const p = must(http.post(`${BASE}/api/v1/admin/productos`,
    JSON.stringify({ nombre: 'k6', precio: 10, imagenes: [{ url: a, orden: 1 }, { url: b, orden: 2 }] }),
    { headers: jsonHeaders, tags: { name: 'POST /api/v1/admin/productos' } }), 201, 'create').json('producto.id');
  const put = must(http.put(`${BASE}/api/v1/admin/productos/${p}`,
    JSON.stringify({ imagenes: [{ url: a, orden: 1 }] }),
    { headers: jsonHeaders, tags: { name: 'PUT /api/v1/admin/productos/:id' } }), 200, 'replace');
  const entry = put.json('papelera')[0];
  must(http.post(`${BASE}/api/v1/admin/papelera/${entry}/restaurar`, null,
    { headers: authHeaders, tags: { name: 'POST /api/v1/admin/papelera/:id/restaurar' } }), 200, 'restore');
  const del = must(http.del(`${BASE}/api/v1/admin/productos/${p}`, null,
    { headers: authHeaders, tags: { name: 'DELETE /api/v1/admin/productos/:id' } }), 200, 'delete product');
  check(del, { 'both images trashed': (r) => r.json('papelera').length === 2 });
}

export function handleSummary(data) { return summary('lifecycle', data); }
