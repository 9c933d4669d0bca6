package janitor_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestThumbnailCacheSweep: the thumbnails step removes cache entries whose
// original is no longer live (deleted, or a name that maps to no image),
// keeps those of live images, counts them in a dry run without touching
// them, and lists them.
func TestThumbnailCacheSweep(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, live := f.image(false)
	_, gone := f.trashed()
	cache := func(url string, w string) string {
		k := ".miniaturas/" + w + "/" + strings.TrimPrefix(url, "/recursos/") + ".png"
		f.kit.Put(t, k, []byte("thumb"), 0)
		return k
	}
	keep := []string{cache(live, "64"), cache(live, "1024")}
	drop := []string{cache(gone, "64"), cache(gone, "256"), cache("/recursos/imagenes/productos/zz/never.png", "128")}
	junk := ".miniaturas/notawidth/x.png"
	f.kit.Put(t, junk, []byte("?"), 0)
	drop = append(drop, junk)

	remaining := func() []string {
		var got []string
		for _, k := range f.kit.Keys(t) {
			if strings.HasPrefix(k, ".miniaturas/") {
				got = append(got, k)
			}
		}
		return got
	}
	all := append(append([]string(nil), keep...), drop...)
	sort.Strings(all)
	sort.Strings(keep)

	dry := cfg()
	dry.DryRun, dry.List = true, true
	rep, err := f.j.Run(context.Background(), dry)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Thumbnails != 4 || len(rep.Items["thumbnails"]) != 4 {
		t.Errorf("dry run: got thumbnails %d (%d listed), want 4", rep.Thumbnails, len(rep.Items["thumbnails"]))
	}
	if diff := cmp.Diff(all, remaining()); diff != "" {
		t.Errorf("a dry run removed cache entries (-want +got):\n%s", diff)
	}

	rep, err = f.j.Run(context.Background(), cfg())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Thumbnails != 4 {
		t.Errorf("got thumbnails %d, want 4", rep.Thumbnails)
	}
	if diff := cmp.Diff(keep, remaining()); diff != "" {
		t.Errorf("cache after the pass (-want +got):\n%s", diff)
	}
	if !f.isLive(live) {
		t.Errorf("the live original was touched")
	}
	rep, err = f.j.Run(context.Background(), cfg())
	if err != nil || rep.Thumbnails != 0 {
		t.Errorf("second pass: got thumbnails %d, err %v; want 0, nil", rep.Thumbnails, err)
	}
}
