//go:build !faults

// Package fault marks the named points of the delete protocol and the
// janitor where the crash harness (internal/crashtest, `make crash`) kills
// the process. In normal builds Point does nothing and compiles away; only a
// binary built with `-tags faults` reads IMAGENES_FAULTS.
package fault

// Point is a place where a crash must leave nothing lost: after the files
// moved and before the commit, after the commit and before the response,
// during an upload, a janitor purge or an orphan move.
func Point(name string) {}

// Enabled reports whether this build can kill itself at a point.
const Enabled = false
