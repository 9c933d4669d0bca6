package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// RemoveTrashBatch deletes the trash files names for good: one unlink each
// (a folder has no multi-file delete), then one sync of the trash folder
// for all of them instead of one per file. A file already gone counts as
// removed; a name refused or a file that could not be removed is in failed
// with its error. err is a failure of the whole (the folder's sync, or ctx
// ended before every name was tried): the caller keeps every name then,
// removed or not, since an unlink not yet synced may come back after a
// power cut.
func (s *Storage) RemoveTrashBatch(ctx context.Context, names []string) (failed map[string]error, err error) {
	failed = make(map[string]error)
	for i, n := range names {
		if cerr := ctx.Err(); cerr != nil {
			for _, rest := range names[i:] {
				failed[rest] = cerr
			}
			return failed, fmt.Errorf("remove trash batch: %w", cerr)
		}
		p, perr := trashPath(n)
		if perr != nil {
			failed[n] = perr
			continue
		}
		if rerr := s.root.Remove(p); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			failed[n] = classify("remove", p, rerr)
		}
	}
	return failed, s.syncDir(trashDir)
}
