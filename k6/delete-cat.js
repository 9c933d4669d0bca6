// DELETE /api/image/:id (Cat Data family) over distinct seeded ids.
//   TOKEN=... FIRST=1 ITERATIONS=10000 k6 run k6/delete-cat.js
import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';
import { BASE, FIRST, authHeaders, deleteOptions, summary } from './lib.js';

export const options = deleteOptions();

export default function () {
  const id = FIRST + exec.scenario.iterationInTest;
  const res = http.del(`${BASE}/api/image/${id}`, null,
    { headers: authHeaders, tags: { name: 'DELETE /api/image/:id' } });
  check(res, { 'deleted (204)': (r) => r.status === 204 });
}

export function handleSummary(data) { return summary('delete-cat', data); }
