package catalog

import (
	"testing"

	"github.com/imagenes/imagenes/internal/storage"
)

// The bulk route's cap follows the storage's Capabilities: the SPEC's
// 1 000 unless the driver caps its moves per request lower.
func TestBulkLimit(t *testing.T) {
	for _, tc := range []struct {
		name string
		caps storage.Capabilities
		want int
	}{
		{"no cap of the driver's (a folder)", storage.Capabilities{MoveConcurrency: 1}, MaxBulk},
		{"a bucket's cap", storage.Capabilities{MaxMovesPerRequest: 100}, 100},
		{"a cap above the SPEC's", storage.Capabilities{MaxMovesPerRequest: 5000}, MaxBulk},
	} {
		if got := bulkLimit(tc.caps); got != tc.want {
			t.Errorf("%s: bulkLimit = %d, want %d", tc.name, got, tc.want)
		}
	}
}
