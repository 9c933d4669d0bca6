// Command report prints the tables of `make bench` and
// scripts/janitor-measure.sh from the files those runs leave behind, so the
// scripts need nothing but Go (no jq, no Python).
//
//	go run ./bench/report bench OUT_DIR     one row per run found in OUT_DIR/run-*/
//	go run ./bench/report janitor LABEL REPORT.json RSS_KB_FILE
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: report bench OUT_DIR | report janitor LABEL REPORT.json RSS_FILE")
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

// balsamoaRPS is the reference figure of issue 5: the Express + pg service
// Balsamoa runs today, same machine kind, same scenario.
const balsamoaRPS = 600.0

type row struct {
	run                 string
	rps, p50, p99       float64
	rssMiB              float64
	pgTPS, pgP50, pgP99 float64
	failed              float64
}

func benchTable(dir string) {
	runs, _ := filepath.Glob(filepath.Join(dir, "run-*"))
	sort.Strings(runs)
	var rows []row
	for _, r := range runs {
		k6, err := readK6(filepath.Join(r, "delete-balsamoa.json"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			continue
		}
		k6.run = filepath.Base(r)
		k6.rssMiB = readNumber(filepath.Join(r, "server-vmhwm-kb")) / 1024
		k6.pgTPS, k6.pgP50, k6.pgP99 = readPgbench(r)
		rows = append(rows, k6)
	}
	if len(rows) == 0 {
		fail("no runs in " + dir)
	}
	fmt.Printf("\n%-8s %9s %8s %8s %9s | %9s %8s %8s | %8s %8s %9s\n",
		"run", "req/s", "p50 ms", "p99 ms", "RSS MiB", "pg tps", "p50 ms", "p99 ms", "÷pgbench", "÷Bals.", "p99÷pg")
	for _, r := range rows {
		fmt.Printf("%-8s %9.0f %8.1f %8.1f %9.1f | %9.0f %8.1f %8.1f | %8.2f %8.2f %9.2f\n",
			r.run, r.rps, r.p50, r.p99, r.rssMiB, r.pgTPS, r.pgP50, r.pgP99, r.rps/r.pgTPS, r.rps/balsamoaRPS, r.p99/r.pgP99)
	}
	if len(rows) > 1 {
		ratio := func(r row) float64 { return r.rps / r.pgTPS }
		rps := func(r row) float64 { return r.rps }
		fmt.Printf("spread   req/s %.0f–%.0f, ratio to pgbench %.2f–%.2f over %d runs\n",
			minOf(rows, rps), maxOf(rows, rps), minOf(rows, ratio), maxOf(rows, ratio), len(rows))
	}
	for _, r := range rows {
		if r.failed > 0 {
			fmt.Printf("%s: %.2f%% of requests failed\n", r.run, r.failed*100)
		}
	}
	fmt.Println("targets: ÷pgbench ≥ 0.80, ÷Balsamoa ≥ 4, p99÷pg < 2, RSS < 64 MiB")
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

func janitorRow(label, reportPath, rssPath string) {
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
	secs := float64(max(r.MS, 1)) / 1000
	fmt.Printf("%-28s %8d files %8d rows %6d ms %9.0f files/s %9.0f items/s  peak RSS %5.1f MiB  orphans %d dangling %d\n",
		label, r.Files, r.Rows, r.MS, float64(r.Files)/secs, float64(r.Files+r.Rows)/secs, readNumber(rssPath)/1024, r.Orphans, r.Dangling)
}
