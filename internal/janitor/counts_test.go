package janitor_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/imagenes/imagenes/internal/janitor"
	"github.com/imagenes/imagenes/internal/repo"
)

// numbered returns a Report whose every count (each int field but the
// duration and the items left out) holds a value of its own, and those
// values by JSON name.
func numbered(t *testing.T) (janitor.Report, map[string]int) {
	t.Helper()
	var r janitor.Report
	want := map[string]int{}
	v := reflect.ValueOf(&r).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Type.Kind() != reflect.Int || name == "items_omitted" {
			continue
		}
		v.Field(i).SetInt(int64(100 + i))
		want[name] = 100 + i
	}
	if len(want) < 10 {
		t.Fatalf("found %d counts in the Report; the reflection is wrong", len(want))
	}
	return r, want
}

// TestEveryCountIsReported: every count of the Report is in Counts (the one
// list the log line, the metrics and the CLI summary are made from — the
// summary is checked in app), in the metrics and in the JSON, by the same
// name. staging and thumbnails were missing from the metrics, thumbnails…
// from the summary, purge_kept from both.
func TestEveryCountIsReported(t *testing.T) {
	t.Parallel()
	r, want := numbered(t)
	got := map[string]int{}
	for _, c := range r.Counts() {
		got[c.Name] = c.N
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Counts (-the Report's fields +Counts):\n%s", diff)
	}

	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var asJSON map[string]any
	if err := json.Unmarshal(b, &asJSON); err != nil {
		t.Fatal(err)
	}
	for name, n := range want {
		if v, ok := asJSON[name].(float64); !ok || int(v) != n {
			t.Errorf("JSON %s = %v, want %d", name, asJSON[name], n)
		}
	}

	// The metrics of a real pass: its report is the one observed.
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	j := janitor.New(janitor.Deps{Store: f.store, Files: f.files, Protocol: f.proto, PassLock: repo.NewPassLocks(f.pool),
		Now: f.clock, Log: zap.NewNop(), Metrics: janitor.NewMetrics(reg)})
	f.image(false)
	rep, err := j.Run(context.Background(), cfg())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Counts() {
		if got := gaugeOrCounter(t, reg, "imagenes_janitor_last_pass_items", "kind", c.Name); int(got) != c.N {
			t.Errorf("imagenes_janitor_last_pass_items{kind=%q} = %v, want %d", c.Name, got, c.N)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "imagenes_janitor_last_pass_items" {
			continue
		}
		for _, m := range mf.GetMetric() {
			kinds[m.GetLabel()[0].GetValue()] = true
		}
	}
	for name := range want {
		if !kinds[name] {
			t.Errorf("no imagenes_janitor_last_pass_items{kind=%q}", name)
		}
	}

	// Every kind of item is a count's.
	for _, k := range janitor.ItemKinds() {
		if _, ok := want[k]; !ok {
			t.Errorf("item kind %q is no count of the Report", k)
		}
	}
}
