package trash

import (
	"fmt"

	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
)

// The moves the janitor makes, undone like any other if its transaction
// does not commit.

// PutBack moves trash file name back to the live path of url: the file of a
// delete that never committed.
func (tx *Tx) PutBack(name, url string) error {
	if err := tx.files.MoveFromTrash(name, url); err != nil {
		return fmt.Errorf("put %s back to %q: %w", name, url, err)
	}
	tx.undo = append(tx.undo, func() error {
		_, err := tx.files.MoveToTrash(url, name)
		return err
	})
	return nil
}

// Rename renames trash file from to to.
func (tx *Tx) Rename(from, to string) error {
	if err := tx.files.RenameTrash(from, to); err != nil {
		return fmt.Errorf("rename %s in trash: %w", from, err)
	}
	tx.undo = append(tx.undo, func() error { return tx.files.RenameTrash(to, from) })
	return nil
}

// Purge removes the trash files of entries for good. Unlike every other
// move it cannot be undone, so callers delete the entries in the same
// transaction and remove the files last: if the commit then fails, the
// entries come back without files and the next pass deletes them.
func (tx *Tx) Purge(entries []repo.Entrada) error {
	for _, e := range entries {
		if e.SinArchivo || !storage.IsLocal(e.URL) {
			continue
		}
		if err := tx.files.RemoveTrash(storage.TrashName(e.ID, e.EliminadoEn, e.URL)); err != nil {
			return fmt.Errorf("purge entry %d: %w", e.ID, err)
		}
	}
	return nil
}
