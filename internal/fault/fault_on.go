//go:build faults

package fault

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Enabled reports whether this build can kill itself at a point.
const Enabled = true

var (
	once  sync.Once
	probs map[string]float64
)

// load reads IMAGENES_FAULTS: "after-move=0.05,after-commit=0.02,…", each
// point's chance of SIGKILL when reached.
func load() {
	probs = map[string]float64{}
	for _, kv := range strings.Split(os.Getenv("IMAGENES_FAULTS"), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			continue
		}
		if p, err := strconv.ParseFloat(v, 64); err == nil {
			probs[k] = p
		}
	}
}

// Point kills the process with SIGKILL, with the configured chance, after
// saying where on stderr (the harness counts the points it survived).
func Point(name string) {
	once.Do(load)
	if p := probs[name]; p > 0 && rand.Float64() < p {
		fmt.Fprintf(os.Stderr, "fault: SIGKILL at %s\n", name)
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // SIGKILL is not deliverable late; never return
	}
}
