// DELETE /api/v1/admin/imagenes/:id over distinct seeded ids: every request
// deletes a row that exists and moves its file to the trash.
//   TOKEN=... FIRST=1 ITERATIONS=10000 k6 run k6/delete-balsamoa.js
import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';
import { BASE, FIRST, authHeaders, deleteOptions, summary } from './lib.js';

export const options = deleteOptions();

export default function () {
  const id = FIRST + exec.scenario.iterationInTest;
  const res = http.del(`${BASE}/api/v1/admin/imagenes/${id}`, null,
    { headers: authHeaders, tags: { name: 'DELETE /api/v1/admin/imagenes/:id' } });
  check(res, { 'deleted (200)': (r) => r.status === 200 });
}

export function handleSummary(data) { return summary('delete-balsamoa', data); }
