package trash

import (
	"context"

	"github.com/imagenes/imagenes/internal/repo"
)

// Rows are the statements a protocol transaction may run on its own: reads,
// locks, and changes that neither delete an image row nor create or delete
// a trash entry, so that no file has to follow them. Everything else is a
// method of Tx that moves the files with the rows.
type Rows interface {
	// Reads and locks.
	EntradaExists(ctx context.Context, id int64) (bool, error)
	EntradasByID(ctx context.Context, ids []int64) ([]repo.Entrada, error)
	LockImagenesSkipLocked(ctx context.Context, ids []int32) ([]repo.Imagen, error)
	LockImagenesPorURL(ctx context.Context, urls []string) ([]repo.Imagen, error)
	ImagenesDe(ctx context.Context, productoIDs []int32) ([]repo.Imagen, error)
	LockURLs(ctx context.Context, urls []string) error
	TryLockURLs(ctx context.Context, urls []string) ([]string, error)
	URLInUse(ctx context.Context, url string) (bool, error)
	URLsInUse(ctx context.Context, urls []string) (map[string]bool, error)
	SinArchivoByBase(ctx context.Context, base, stem string) ([]repo.Entrada, error)
	EntradasByURL(ctx context.Context, urls []string) ([]repo.Entrada, error)
	LockProducto(ctx context.Context, id int32) (repo.Producto, error)

	// Product rows, and image rows that name no local file.
	InsertProducto(ctx context.Context, c repo.ProductoCampos) (repo.Producto, error)
	UpdateProducto(ctx context.Context, id int32, c repo.ProductoCampos) (repo.Producto, error)
	ReplaceVariantes(ctx context.Context, pid int32, vs []repo.Variante) error
	AsignarImagenes(ctx context.Context, pid int32, ids, orden []int32) error
	InsertExternas(ctx context.Context, pid int32, urls []string, orden []int32, owner string) error
}

// Rows returns the transaction's statements that move no file.
func (tx *Tx) Rows() Rows { return tx.store }
