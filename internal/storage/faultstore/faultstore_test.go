package faultstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/storage/faultstore"
	"github.com/imagenes/imagenes/internal/storagetest"
)

var png = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte("p"), 100)...)

// op is one storage call with an effect, and how to see that effect.
type op struct {
	name string
	// setup puts the files the call needs in place (a live file at url,
	// or a trash file name); call makes it; done says its effect is there.
	setup func(t *testing.T, k *storagetest.Kit, url, name string)
	call  func(ctx context.Context, s *faultstore.Store, k *storagetest.Kit, url, name string) error
	done  func(t *testing.T, k *storagetest.Kit, url, name string) bool
}

func live(t *testing.T, k *storagetest.Kit, url string) bool { return k.Exists(t, url[1:]) }
func inTrash(t *testing.T, k *storagetest.Kit, name string) bool {
	return k.Exists(t, ".papelera/"+name)
}

var ops = []op{
	{"MoveToTrash",
		func(t *testing.T, k *storagetest.Kit, url, _ string) { k.Put(t, url[1:], png, 0) },
		func(ctx context.Context, s *faultstore.Store, _ *storagetest.Kit, url, name string) error {
			moved, err := s.MoveToTrash(ctx, url, name)
			if err != nil && moved {
				return fmt.Errorf("moved true beside the error %w", err)
			}
			return err
		},
		func(t *testing.T, k *storagetest.Kit, url, name string) bool {
			return !live(t, k, url) && inTrash(t, k, name)
		}},
	{"MoveFromTrash",
		func(t *testing.T, k *storagetest.Kit, _, name string) { k.Put(t, ".papelera/"+name, png, 0) },
		func(ctx context.Context, s *faultstore.Store, _ *storagetest.Kit, url, name string) error {
			return s.MoveFromTrash(ctx, name, url)
		},
		func(t *testing.T, k *storagetest.Kit, url, name string) bool {
			return live(t, k, url) && !inTrash(t, k, name)
		}},
	{"RenameTrash",
		func(t *testing.T, k *storagetest.Kit, _, name string) { k.Put(t, ".papelera/"+name, png, 0) },
		func(ctx context.Context, s *faultstore.Store, _ *storagetest.Kit, _, name string) error {
			return s.RenameTrash(ctx, name, "9"+name)
		},
		func(t *testing.T, k *storagetest.Kit, _, name string) bool { return inTrash(t, k, "9"+name) }},
	{"RemoveTrash",
		func(t *testing.T, k *storagetest.Kit, _, name string) { k.Put(t, ".papelera/"+name, png, 0) },
		func(ctx context.Context, s *faultstore.Store, _ *storagetest.Kit, _, name string) error {
			return s.RemoveTrash(ctx, name)
		},
		func(t *testing.T, k *storagetest.Kit, _, name string) bool { return !inTrash(t, k, name) }},
	{"RemoveLive",
		func(t *testing.T, k *storagetest.Kit, url, _ string) { k.Put(t, url[1:], png, 0) },
		func(ctx context.Context, s *faultstore.Store, _ *storagetest.Kit, url, _ string) error {
			return s.RemoveLive(ctx, url)
		},
		func(t *testing.T, k *storagetest.Kit, url, _ string) bool { return !live(t, k, url) }},
	{"Publish",
		func(*testing.T, *storagetest.Kit, string, string) {},
		func(ctx context.Context, s *faultstore.Store, k *storagetest.Kit, url, _ string) error {
			st, err := k.Stage(context.Background(), bytes.NewReader(png), 1<<20, []string{"image/png"})
			if err != nil {
				return fmt.Errorf("stage: %w", err)
			}
			return s.Publish(ctx, st, url)
		},
		func(t *testing.T, k *storagetest.Kit, url, _ string) bool { return live(t, k, url) }},
}

// Each mode does what it says, for every call with an effect, on both
// backends: FailBefore errs with nothing done; LoseAnswer errs with the
// effect done; Hang errs once the caller's context ends with nothing done,
// and with LandLate the effect comes when the test lands it, after the
// caller had its error. The error a fault makes is the store's
// ErrUnavailable (a 503), and a hang's names the caller's context too.
func TestModes(t *testing.T) {
	t.Parallel()
	modes := []struct {
		name      string
		fault     *faultstore.Fault // nil: no fault
		wantErr   []error
		doneAfter bool // the effect once the call returned
		doneLate  bool // the effect after Land
	}{
		{name: "none", doneAfter: true, doneLate: true},
		{name: "fail-before", fault: &faultstore.Fault{Mode: faultstore.FailBefore},
			wantErr: []error{faultstore.ErrInjected, storage.ErrUnavailable}},
		{name: "lose-answer", fault: &faultstore.Fault{Mode: faultstore.LoseAnswer},
			wantErr: []error{faultstore.ErrInjected, storage.ErrUnavailable}, doneAfter: true, doneLate: true},
		{name: "hang", fault: &faultstore.Fault{Mode: faultstore.Hang},
			wantErr: []error{context.DeadlineExceeded, storage.ErrUnavailable}},
		{name: "hang, land late", fault: &faultstore.Fault{Mode: faultstore.Hang, LandLate: true},
			wantErr: []error{context.DeadlineExceeded, storage.ErrUnavailable}, doneLate: true},
	}
	for _, kind := range []string{storagetest.Disk, storagetest.S3} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			for _, o := range ops {
				t.Run(o.name, func(t *testing.T) {
					t.Parallel()
					k := storagetest.New(t, kind)
					for i, m := range modes {
						url := fmt.Sprintf("/recursos/imagenes/productos/%02d/f%d.png", i, i)
						name := fmt.Sprintf("%d-1-f%d.png", i+1, i)
						o.setup(t, k, url, name)
						s := faultstore.New(k, faultstore.Options{})
						if m.fault != nil {
							f := *m.fault
							f.Method = o.name
							s.Inject(f)
						}
						// The hang's context ends on its own; no other
						// call waits for it.
						ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
						if m.fault == nil || m.fault.Mode != faultstore.Hang {
							cancel()
							ctx, cancel = context.WithCancel(t.Context())
						}
						err := o.call(ctx, s, k, url, name)
						cancel()
						switch {
						case m.wantErr == nil && err != nil:
							t.Errorf("%s: %v, want no error", m.name, err)
						case m.wantErr != nil && err == nil:
							t.Errorf("%s: no error, want %v", m.name, m.wantErr)
						}
						for _, w := range m.wantErr {
							if !errors.Is(err, w) {
								t.Errorf("%s: %v, want it to wrap %v", m.name, err, w)
							}
						}
						if got := o.done(t, k, url, name); got != m.doneAfter {
							t.Errorf("%s: effect done when the call returned: %v, want %v", m.name, got, m.doneAfter)
						}
						if err := s.Land(); err != nil {
							t.Errorf("%s: land: %v", m.name, err)
						}
						if got := o.done(t, k, url, name); got != m.doneLate {
							t.Errorf("%s: effect done after Land: %v, want %v", m.name, got, m.doneLate)
						}
						if hit := s.Hit(); (m.fault != nil) != (len(hit) == 1) {
							t.Errorf("%s: calls hit %v", m.name, hit)
						}
					}
				})
			}
		})
	}
}

// A fault hits the calls it chooses: the Nth of its method, the calls whose
// key it accepts, or every call; the others go through. A hang whose
// context never ends (an undo on context.WithoutCancel) ends at the store's
// Limit, as a driver's own time limit ends it. Calls are recorded in order.
func TestChoosing(t *testing.T) {
	t.Parallel()
	urls := []string{"/recursos/imagenes/productos/a/a.png", "/recursos/imagenes/productos/b/b.png", "/recursos/imagenes/productos/c/c.png"}
	cases := []struct {
		name  string
		fault faultstore.Fault
		fails []bool // per url
	}{
		{"second call", faultstore.Fault{Method: "MoveToTrash", Nth: 2, Mode: faultstore.FailBefore}, []bool{false, true, false}},
		{"by key", faultstore.Fault{Method: "MoveToTrash", Key: func(k string) bool { return k == urls[2] }, Mode: faultstore.FailBefore}, []bool{false, false, true}},
		{"every call", faultstore.Fault{Method: "MoveToTrash", Mode: faultstore.FailBefore}, []bool{true, true, true}},
		{"another method", faultstore.Fault{Method: "RemoveLive", Mode: faultstore.FailBefore}, []bool{false, false, false}},
		{"a hang no context ends", faultstore.Fault{Nth: 1, Mode: faultstore.Hang}, []bool{true, false, false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k := storagetest.New(t, storagetest.Disk)
			s := faultstore.New(k, faultstore.Options{Limit: 100 * time.Millisecond})
			s.Inject(tc.fault)
			for i, u := range urls {
				k.Put(t, u[1:], png, 0)
				_, err := s.MoveToTrash(context.WithoutCancel(t.Context()), u, fmt.Sprintf("%d-1-x.png", i+1))
				if (err != nil) != tc.fails[i] {
					t.Errorf("call %d (%s): %v, want failed %v", i+1, u, err, tc.fails[i])
				}
				if err != nil && !errors.Is(err, storage.ErrUnavailable) {
					t.Errorf("call %d: %v, want ErrUnavailable", i+1, err)
				}
			}
			calls := s.Calls()
			if len(calls) != len(urls) {
				t.Fatalf("recorded %v, want %d calls", calls, len(urls))
			}
			for i, c := range calls {
				if c.Method != "MoveToTrash" || c.Key != urls[i] || (c.Mode != 0) != tc.fails[i] {
					t.Errorf("call %d recorded as %+v", i+1, c)
				}
			}
		})
	}
}

// With no fault armed the fault store is a conforming driver: the suite
// every driver runs passes through it, on the folder.
func TestConformance(t *testing.T) {
	t.Parallel()
	storagetest.RunConformance(t, storagetest.Harness{
		Capabilities: storage.Capabilities{MoveConcurrency: 1, Thumbnails: true},
		Make: func(t *testing.T) storagetest.Driver {
			k := storagetest.New(t, storagetest.Disk)
			return storagetest.Driver{Backend: faultstore.New(k, faultstore.Options{}), PutRaw: func(t *testing.T, key string, data []byte) {
				k.Put(t, key, data, 0)
			}}
		},
	})
}
