// DELETE /api/image/:id (Cat Data family) over distinct seeded ids.
//   TOKEN=... FIRST=1 ITERATIONS=10000 k6 run k6/delete-cat.js
import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';
import { BASE, authHeaders, summary, trendStats } from './lib.js';

const FIRST = parseInt(__ENV.FIRST || '1', 10);

export const options = {
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

export default function () {
  const id = FIRST + exec.scenario.iterationInTest;
  const res = http.del(`${BASE}/api/image/${id}`, null,
    { headers: authHeaders, tags: { name: 'DELETE /api/image/:id' } });
  check(res, { 'deleted (204)': (r) => r.status === 204 });
}

export function handleSummary(data) { return summary('delete-cat', data); }
