package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// readCPU reads what scripts/bench.sh's measure writes: the folder's legs
// have no MinIO fields, the bucket's have MinIO's ticks and its S3
// requests by API (s3_<api>=N).
func TestReadCPU(t *testing.T) {
	cases := []struct {
		name, line string
		want       cpu
	}{
		{"folder", "deletes=100 wall=2.5 server_ticks=3 pg_ticks=4 client_s=0.5 clk_tck=100",
			cpu{deletes: 100, wall: 2.5, serverTicks: 3, pgTicks: 4, clientS: 0.5, clkTck: 100, s3: map[string]float64{}}},
		{"bucket", "deletes=100 wall=9 server_ticks=5 pg_ticks=4 client_s=0.5 clk_tck=100 minio_ticks=30 s3_headobject=200 s3_copyobject=100 s3_deleteobject=100 ",
			cpu{deletes: 100, wall: 9, serverTicks: 5, pgTicks: 4, clientS: 0.5, clkTck: 100, minioTicks: 30,
				s3: map[string]float64{"headobject": 200, "copyobject": 100, "deleteobject": 100}}},
		{"missing file", "", cpu{s3: map[string]float64{}}},
	}
	for _, tc := range cases {
		p := filepath.Join(t.TempDir(), "k6.cpu")
		if tc.line != "" {
			if err := os.WriteFile(p, []byte(tc.line+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if d := cmp.Diff(tc.want, readCPU(p), cmp.AllowUnexported(cpu{})); d != "" {
			t.Errorf("%s: (-want +got)\n%s", tc.name, d)
		}
	}
	c := cpu{deletes: 100, clkTck: 100, minioTicks: 30}
	if got := c.perDelete(c.minioTicks); got != 3000 {
		t.Errorf("MinIO µs per delete: %v, want 3000 (30 ticks of 10 ms over 100 deletes)", got)
	}
}
