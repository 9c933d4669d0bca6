// Command report prints the tables of `make bench` and
// scripts/janitor-measure.sh from the files those runs leave behind, so the
// scripts need nothing but Go (no jq, no Python).
//
//	go run ./bench/report bench OUT_DIR     one row per run found in OUT_DIR/run-*/
//	go run ./bench/report janitor LABEL REPORT.json TIME_FILE
package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: report bench OUT_DIR | report janitor LABEL REPORT.json TIME_FILE")
	}
	switch os.Args[1] {
	case "bench":
		benchTable(os.Args[2])
	case "janitor":
		janitorRow(os.Args[2], os.Args[3], os.Args[4])
	default:
		fail("unknown table " + os.Args[1])
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "report:", msg)
	os.Exit(2)
}

// balsamoaRPS is the reference figure of issue 13: the Express + pg service
// Balsamoa runs today, on this machine, 32 k6 VUs, three interleaved rounds.
const balsamoaRPS = 789.0

type row struct {
	run                 string
	rps, p50, p99       float64 // k6
	wrkRPS, wrkP50      float64
	wrkP99, wrkBad      float64
	rssMiB              float64
	pgTPS, pgP50, pgP99 float64
	failed              float64
	cpu                 map[string]cpu // by phase: k6, wrk, bulk, pgbench
}

// cpu is what scripts/bench.sh's measure wrote for one phase.
type cpu struct {
	deletes, wall, serverTicks, pgTicks, clientS, clkTck float64
	minioTicks                                           float64            // the bucket's leg: MinIO's CPU
	s3                                                   map[string]float64 // and its S3 requests by API
}

// rate is deletes per second of the phase's wall time.
func (c cpu) rate() float64 {
	if c.wall == 0 {
		return 0
	}
	return c.deletes / c.wall
}

// perDelete is µs of CPU per delete.
func (c cpu) perDelete(ticks float64) float64 {
	if c.deletes == 0 || c.clkTck == 0 {
		return 0
	}
	return ticks / c.clkTck * 1e6 / c.deletes
}

func benchTable(dir string) {
	runs, _ := filepath.Glob(filepath.Join(dir, "run-*"))
	sort.Strings(runs)
	var rows []row
	var pairs [][2]row // disk, s3: the runs of make bench BACKEND=s3
	for _, r := range runs {
		k6, err := readRun(r)
		if err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			continue
		}
		rows = append(rows, k6)
		if s3, err := readRun(filepath.Join(r, "s3")); err == nil {
			s3.run = k6.run
			pairs = append(pairs, [2]row{k6, s3})
		}
	}
	if len(rows) == 0 {
		fail("no runs in " + dir)
	}
	fmt.Printf("\ndeletes/s and latency (ms); ratios to pgbench's per-delete transaction, same run\n")
	fmt.Printf("%-6s %7s %6s | %7s %6s %6s | %7s | %6s | %7s %6s %6s | %7s %6s %7s %7s %8s\n",
		"run", "k6/s", "p99", "wrk/s", "p50", "p99", "bulk/s", "RSS", "pg tps", "p50", "p99", "wrk÷pg", "k6÷pg", "k6÷Bals", "p99÷pg", "bulk÷wrk")
	for _, r := range rows {
		bulk := r.cpu["bulk"].rate()
		fmt.Printf("%-6s %7.0f %6.1f | %7.0f %6.1f %6.1f | %7.0f | %6.1f | %7.0f %6.1f %6.1f | %7.2f %6.2f %7.2f %7.2f %8.1f\n",
			r.run, r.rps, r.p99, r.wrkRPS, r.wrkP50, r.wrkP99, bulk, r.rssMiB, r.pgTPS, r.pgP50, r.pgP99,
			r.wrkRPS/r.pgTPS, r.rps/r.pgTPS, r.rps/balsamoaRPS, r.wrkP99/r.pgP99, bulk/r.wrkRPS)
	}
	fmt.Printf("\nCPU µs per delete (ticks from /proc over each phase ÷ rows the trash gained)\n")
	fmt.Printf("%-6s %-8s %8s %8s %10s %8s %8s\n", "run", "client", "deletes", "server", "PostgreSQL", "client", "wall s")
	for _, r := range rows {
		for _, phase := range []string{"k6", "wrk", "bulk", "pgbench"} {
			c := r.cpu[phase]
			server := fmt.Sprintf("%8.0f", c.perDelete(c.serverTicks))
			if phase == "pgbench" {
				server = fmt.Sprintf("%8s", "–")
			}
			fmt.Printf("%-6s %-8s %8.0f %s %10.0f %8.0f %8.1f\n", r.run, phase, c.deletes, server,
				c.perDelete(c.pgTicks), c.perDelete(c.clientS*c.clkTck), c.wall)
		}
	}
	if len(rows) > 1 {
		ratio := func(r row) float64 { return r.wrkRPS / r.pgTPS }
		k6ratio := func(r row) float64 { return r.rps / r.pgTPS }
		fmt.Printf("spread over %d runs: wrk÷pg %.2f–%.2f, k6÷pg %.2f–%.2f\n",
			len(rows), minOf(rows, ratio), maxOf(rows, ratio), minOf(rows, k6ratio), maxOf(rows, k6ratio))
	}
	for _, r := range rows {
		if r.failed > 0 {
			fmt.Printf("%s: %.2f%% of k6 requests failed\n", r.run, r.failed*100)
		}
		if r.wrkBad > 0 {
			fmt.Printf("%s: %.0f wrk answers were not 2xx\n", r.run, r.wrkBad)
		}
	}
	fmt.Println("bulk/s: images trashed per second of wall time by the bulk route, one request of BULK ids at a time")
	fmt.Println("targets (issue 13): wrk÷pg ≥ 1.0, k6÷Bals ≥ 4, p99÷pg ≤ 2, server ≤ 100 µs/delete, RSS < 64 MiB, bulk÷wrk ≥ 10")
	backendTables(pairs)
}

// readRun reads one run's (or one backend's leg of it) files.
func readRun(r string) (row, error) {
	k6, err := readK6(filepath.Join(r, "delete-balsamoa.json"))
	if err != nil {
		return row{}, err
	}
	k6.run = filepath.Base(r)
	k6.rssMiB = readNumber(filepath.Join(r, "server-vmhwm-kb")) / 1024
	k6.pgTPS, k6.pgP50, k6.pgP99 = readPgbench(r)
	k6.wrkRPS, k6.wrkP50, k6.wrkP99, k6.wrkBad = readWrk(filepath.Join(r, "wrk.txt"))
	k6.cpu = map[string]cpu{}
	for _, phase := range []string{"k6", "wrk", "bulk", "pgbench"} {
		k6.cpu[phase] = readCPU(filepath.Join(r, phase+".cpu"))
	}
	return k6, nil
}

// backendTables prints make bench BACKEND=s3's comparison: each client's
// rate, p99 and CPU per delete on the folder and on the bucket of the same
// run, their s3÷disk ratios, MinIO's CPU per delete, and the S3 requests
// one delete cost by API (MinIO's own count over the phase).
func backendTables(pairs [][2]row) {
	if len(pairs) == 0 {
		return
	}
	p99 := func(r row, phase string) float64 {
		switch phase {
		case "k6":
			return r.p99
		case "wrk":
			return r.wrkP99
		}
		return 0
	}
	ratio := func(a, b float64) string {
		if a == 0 || b == 0 {
			return fmt.Sprintf("%7s", "–")
		}
		return fmt.Sprintf("%7.2f", b/a)
	}
	ms := func(v float64) string {
		if v == 0 {
			return fmt.Sprintf("%7s", "–")
		}
		return fmt.Sprintf("%7.1f", v)
	}
	phases := []string{"k6", "wrk", "bulk"}
	fmt.Printf("\nfolder and bucket in the same run (same seeded images, same clients): deletes/s, p99 ms, CPU µs per delete; s3÷disk\n")
	fmt.Printf("%-6s %-5s %7s %7s %7s | %7s %7s %7s | %7s %7s %7s | %7s %7s | %7s\n",
		"run", "", "disk/s", "s3/s", "s3÷disk", "p99 disk", "s3", "s3÷disk", "srv disk", "s3", "s3÷disk", "pg disk", "s3", "MinIO")
	for _, p := range pairs {
		d, s := p[0], p[1]
		for _, ph := range phases {
			dc, sc := d.cpu[ph], s.cpu[ph]
			fmt.Printf("%-6s %-5s %7.0f %7.0f %s | %s %s %s | %7.0f %7.0f %s | %7.0f %7.0f | %7.0f\n",
				d.run, ph, dc.rate(), sc.rate(), ratio(dc.rate(), sc.rate()),
				ms(p99(d, ph)), ms(p99(s, ph)), ratio(p99(d, ph), p99(s, ph)),
				dc.perDelete(dc.serverTicks), sc.perDelete(sc.serverTicks), ratio(dc.perDelete(dc.serverTicks), sc.perDelete(sc.serverTicks)),
				dc.perDelete(dc.pgTicks), sc.perDelete(sc.pgTicks), sc.perDelete(sc.minioTicks))
		}
	}
	apis := map[string]bool{}
	for _, p := range pairs {
		for _, ph := range phases {
			for api := range p[1].cpu[ph].s3 {
				apis[api] = true
			}
		}
	}
	names := slices.Sorted(maps.Keys(apis))
	fmt.Printf("\nS3 requests per delete on the bucket (MinIO's count by API over the phase ÷ deletes)\n")
	fmt.Printf("%-6s %-5s %7s", "run", "", "all")
	for _, n := range names {
		fmt.Printf(" %12s", n)
	}
	fmt.Println()
	for _, p := range pairs {
		for _, ph := range phases {
			c := p[1].cpu[ph]
			if c.deletes == 0 {
				continue
			}
			all := 0.0
			for _, v := range c.s3 {
				all += v
			}
			fmt.Printf("%-6s %-5s %7.2f", p[0].run, ph, all/c.deletes)
			for _, n := range names {
				fmt.Printf(" %12.2f", c.s3[n]/c.deletes)
			}
			fmt.Println()
		}
	}
}

// readWrk reads wrk's Requests/sec, its --latency percentiles (ms) and the
// count of answers that were not 2xx or 3xx.
func readWrk(path string) (rps, p50, p99, bad float64) {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2 && f[0] == "Requests/sec:":
			rps, _ = strconv.ParseFloat(f[1], 64)
		case len(f) == 2 && f[0] == "50%":
			p50 = wrkMS(f[1])
		case len(f) == 2 && f[0] == "99%":
			p99 = wrkMS(f[1])
		case strings.HasPrefix(strings.TrimSpace(line), "Non-2xx or 3xx responses:"):
			bad, _ = strconv.ParseFloat(f[len(f)-1], 64)
		}
	}
	return rps, p50, p99, bad
}

// wrkMS turns wrk's "812.00us", "9.12ms" or "1.02s" into milliseconds.
func wrkMS(s string) float64 {
	for _, u := range []struct {
		suffix string
		ms     float64
	}{{"us", 0.001}, {"ms", 1}, {"s", 1000}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f * u.ms
		}
	}
	return 0
}

// readCPU reads a measure file: key=value pairs on one line.
func readCPU(path string) cpu {
	b, _ := os.ReadFile(path)
	v := map[string]float64{}
	for _, kv := range strings.Fields(string(b)) {
		if k, x, ok := strings.Cut(kv, "="); ok {
			v[k], _ = strconv.ParseFloat(x, 64)
		}
	}
	c := cpu{deletes: v["deletes"], wall: v["wall"], serverTicks: v["server_ticks"], pgTicks: v["pg_ticks"],
		clientS: v["client_s"], clkTck: v["clk_tck"], minioTicks: v["minio_ticks"], s3: map[string]float64{}}
	for k, x := range v {
		if api, ok := strings.CutPrefix(k, "s3_"); ok {
			c.s3[api] = x
		}
	}
	return c
}

func minOf(rs []row, f func(row) float64) float64 {
	v := f(rs[0])
	for _, r := range rs {
		v = min(v, f(r))
	}
	return v
}

func maxOf(rs []row, f func(row) float64) float64 {
	v := f(rs[0])
	for _, r := range rs {
		v = max(v, f(r))
	}
	return v
}

func readK6(path string) (row, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return row{}, err
	}
	var s struct {
		Metrics map[string]struct {
			Values map[string]float64 `json:"values"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return row{}, fmt.Errorf("%s: %w", path, err)
	}
	d := s.Metrics["http_req_duration"].Values
	return row{rps: s.Metrics["http_reqs"].Values["rate"], p50: d["med"], p99: d["p(99)"],
		failed: s.Metrics["http_req_failed"].Values["rate"]}, nil
}

// readPgbench reads tps from pgbench's output and the latency percentiles
// from its per-transaction logs (third field: latency in µs).
func readPgbench(dir string) (tps, p50, p99 float64) {
	out, _ := os.ReadFile(filepath.Join(dir, "pgbench.txt"))
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "tps = ") {
			tps, _ = strconv.ParseFloat(strings.Fields(line)[2], 64)
		}
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "pgbench_log.*"))
	var lat []float64
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 {
				if v, err := strconv.ParseFloat(f[2], 64); err == nil {
					lat = append(lat, v/1000)
				}
			}
		}
	}
	if len(lat) == 0 {
		return tps, 0, 0
	}
	slices.Sort(lat)
	at := func(q float64) float64 { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	return tps, at(0.50), at(0.99)
}

func readNumber(path string) float64 {
	b, _ := os.ReadFile(path)
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[len(f)-1], 64)
	return v
}

func janitorRow(label, reportPath, timePath string) {
	b, err := os.ReadFile(reportPath)
	if err != nil {
		fail(err.Error())
	}
	var r struct {
		Files    int   `json:"files_scanned"`
		Rows     int   `json:"rows_scanned"`
		MS       int64 `json:"duration_ms"`
		Orphans  int   `json:"orphans"`
		Dangling int   `json:"dangling"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		fail(err.Error())
	}
	// timePath holds "PG_CPU_S USER_S SYS_S MAX_RSS_KB" (janitor-measure.sh).
	t := readNumbers(timePath, 4)
	secs := float64(max(r.MS, 1)) / 1000
	fmt.Printf("%-44s %8d files %8d rows %6d ms %7.0f files/s  cpu %5.1f s (user %5.1f sys %4.1f)  pg %5.1f s  RSS %5.1f MiB  orphans %d dangling %d\n",
		label, r.Files, r.Rows, r.MS, float64(r.Files)/secs, t[1]+t[2], t[1], t[2], t[0], t[3]/1024, r.Orphans, r.Dangling)
}

// readNumbers reads n whitespace-separated numbers (zeros where missing).
func readNumbers(path string, n int) []float64 {
	b, _ := os.ReadFile(path)
	out := make([]float64, n)
	for i, f := range strings.Fields(string(b)) {
		if i < n {
			out[i], _ = strconv.ParseFloat(f, 64)
		}
	}
	return out
}
