package soak

import (
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// sample is the server's resident memory and open file descriptors at one
// moment, read from /proc. Folders are counted apart: the server keeps the
// storage's folders open once used (one per fan-out folder, at most 256
// plus a few), so their count grows with the folders a run has touched,
// bounded by the folders that exist — a cache, not a leak.
type sample struct {
	at   time.Time
	rss  int64 // bytes
	fds  int   // open descriptors other than folders under the storage root
	dirs int   // folders under the storage root held open
}

// sampleProc reads /proc/pid every second until stop closes.
func sampleProc(pid int, root string, stop <-chan struct{}) []sample {
	var out []sample
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return out
		case <-tick.C:
		}
		if s, err := readProc(pid, root); err == nil {
			out = append(out, s)
		}
	}
}

func readProc(pid int, root string) (sample, error) {
	s := sample{at: time.Now()}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return s, err
			}
			s.rss = kb << 10
		}
	}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return s, err
	}
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(dir, fd.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if strings.HasPrefix(target, root) {
			if info, err := os.Stat(target); err == nil && info.IsDir() {
				s.dirs++
				continue
			}
		}
		s.fds++
	}
	return s, nil
}

// window is the figures of the samples of one stretch of the run.
type window struct{ rssMedian, rssMax, fdsMedian, fdsMax, dirsMax int64 }

func figures(ss []sample) window {
	var rss, fds []int64
	var dirs int64
	for _, s := range ss {
		rss, fds = append(rss, s.rss), append(fds, int64(s.fds))
		dirs = max(dirs, int64(s.dirs))
	}
	slices.Sort(rss)
	slices.Sort(fds)
	return window{rss[len(rss)/2], rss[len(rss)-1], fds[len(fds)/2], fds[len(fds)-1], dirs}
}

func (w window) String() string {
	return fmt.Sprintf("RSS median %.1f MiB (max %.1f), open fds median %d (max %d) besides %d storage folders",
		float64(w.rssMedian)/(1<<20), float64(w.rssMax)/(1<<20), w.fdsMedian, w.fdsMax, w.dirsMax)
}

// Leak bounds of flat: a leak per request or per pass grows by thousands
// over a run of thousands of requests, far beyond what the pools (8
// database connections, 8 clients' keep-alive connections, the janitor's
// folders) and the garbage collector's pacing move between two windows.
const (
	fdSlack  = 16
	rssSlack = 16 << 20
)

// flat compares the first and the last minute of the run (a third of it
// when shorter): the last window's median RSS and largest count of fds
// other than folders may not exceed the first's by more than the slack, and
// the folders held open may not outnumber the folders in root.
func flat(t *testing.T, ss []sample, d time.Duration, root string) {
	t.Helper()
	if len(ss) < 6 {
		t.Fatalf("%d samples of /proc: too few to compare", len(ss))
	}
	span := min(time.Minute, d/3)
	start, end := ss[0].at, ss[len(ss)-1].at
	var first, last []sample
	for _, s := range ss {
		if s.at.Before(start.Add(span)) {
			first = append(first, s)
		}
		if s.at.After(end.Add(-span)) {
			last = append(last, s)
		}
	}
	f, l := figures(first), figures(last)
	t.Logf("server, first %s: %s", span, f)
	t.Logf("server, last %s:  %s", span, l)
	if l.fdsMax > f.fdsMax+fdSlack {
		t.Errorf("open fds grew from %d to %d: a leak", f.fdsMax, l.fdsMax)
	}
	folders := 0
	_ = filepath.WalkDir(root, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			folders++
		}
		return nil
	})
	// Beside the cached folders, a janitor pass in flight holds the ones
	// its walk is reading (and the group fsync reopens the trash folder),
	// so a sample may count a few folders twice: fdSlack of them. A leak
	// grows past any slack over a long run.
	if l.dirsMax > int64(folders)+fdSlack {
		t.Errorf("%d storage folders held open, but only %d exist (+%d a walk in flight may hold): a leak", l.dirsMax, folders, fdSlack)
	}
	if l.rssMedian > f.rssMedian+rssSlack {
		t.Errorf("RSS grew from %.1f to %.1f MiB: a leak", float64(f.rssMedian)/(1<<20), float64(l.rssMedian)/(1<<20))
	}
}

// passOutcomes reads imagenes_janitor_passes_total by outcome from a
// /metrics page.
func passOutcomes(c *http.Client, url string) (map[string]float64, error) {
	res, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d", url, res.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	fam, ok := fams["imagenes_janitor_passes_total"]
	if !ok {
		return nil, fmt.Errorf("%s: no imagenes_janitor_passes_total", url)
	}
	for _, m := range fam.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "outcome" {
				out[l.GetValue()] += m.GetCounter().GetValue()
			}
		}
	}
	return out, nil
}
