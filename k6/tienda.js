// The public shop: list (and destacados) and one product, no token.
// setup() creates PRODUCTS products with three external images each.
//   TOKEN=... k6 run k6/tienda.js
import http from 'k6/http';
import { check } from 'k6';
import { BASE, jsonHeaders, summary, trendStats } from './lib.js';

export const options = {
  summaryTrendStats: trendStats,
  vus: parseInt(__ENV.VUS || '16', 10),
  duration: __ENV.DURATION || '10s',
  thresholds: {
    http_req_failed: ['rate==0'],
    checks: ['rate==1'],
    http_req_duration: [`p(99)<${__ENV.P99_MS || 200}`],
  },
};

export function setup() {
  const ids = [];
  for (let i = 0; i < parseInt(__ENV.PRODUCTS || '50', 10); i++) {
    const body = JSON.stringify({
      nombre: `Producto ${i}`, precio: `${i}.99`, destacado: i % 5 === 0,
      imagenes: [1, 2, 3].map((o) => ({ url: `https://cdn.example/p${i}-${o}-${Date.now()}.webp`, orden: o })),
    });
    const res = http.post(`${BASE}/api/v1/admin/productos`, body, { headers: jsonHeaders });
    if (res.status !== 201) throw new Error(`setup: create product: ${res.status} ${res.body}`);
    ids.push(res.json('producto.id'));
  }
  return { ids };
}

export default function (data) {
  const list = http.get(`${BASE}/api/v1/tienda/productos?limite=20`, { tags: { name: 'GET /api/v1/tienda/productos' } });
  check(list, { 'list (200)': (r) => r.status === 200 && r.json().length > 0 });
  const dest = http.get(`${BASE}/api/v1/tienda/productos?destacados=true`, { tags: { name: 'GET /api/v1/tienda/productos?destacados' } });
  check(dest, { 'destacados (200)': (r) => r.status === 200 });
  const id = data.ids[Math.floor(Math.random() * data.ids.length)];
  const one = http.get(`${BASE}/api/v1/tienda/productos/${id}`, { tags: { name: 'GET /api/v1/tienda/productos/:id' } });
  check(one, { 'one (200, 3 images)': (r) => r.status === 200 && r.json('imagenes').length === 3 });
}

export function handleSummary(data) { return summary('tienda', data); }
