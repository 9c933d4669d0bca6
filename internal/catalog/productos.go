package catalog

import (
	"context"
	"fmt"

	"github.com/imagenes/imagenes/internal/repo"
	"github.com/imagenes/imagenes/internal/storage"
	"github.com/imagenes/imagenes/internal/trash"
)

// Errors of an image set, each naming the url at fault.
var (
	// ErrImagenAjena: the url belongs to an image of another product.
	ErrImagenAjena = fmt.Errorf("image attached to another product: %w", repo.ErrConflict)
	// ErrImagenDesconocida: a local url (/recursos/...) that no image row
	// holds. Storing it would make a row without a file; an uploaded image
	// is adopted by its url, a trashed one comes back by restoring it.
	ErrImagenDesconocida = fmt.Errorf("no uploaded image has this url: %w", repo.ErrInvalid)
)

// ImagenRef is one element of a product's image set as a client sends it.
type ImagenRef struct {
	URL   string
	Orden int32
}

// Producto is a product with its images in orden.
type Producto struct {
	repo.Producto
	Imagenes []repo.Imagen
}

// Saved is what a product write did.
type Saved struct {
	Producto Producto
	// Trashed are the entries of the images the write dropped from the set.
	Trashed []repo.Entrada
}

// CreateProducto inserts a product and, when set is not nil, its images, in
// one transaction.
func (s *Service) CreateProducto(ctx context.Context, c repo.ProductoCampos, set []ImagenRef, deletedBy string) (Saved, error) {
	return s.saveProducto(ctx, c, set, deletedBy, func(tx *trash.Tx) (repo.Producto, error) {
		return tx.Rows().InsertProducto(ctx, c)
	})
}

// UpdateProducto changes product id's fields and, when set is not nil,
// replaces its image set, in one transaction: images no longer listed are
// deleted and their files moved to the trash before the commit, and moved
// back if it does not happen.
func (s *Service) UpdateProducto(ctx context.Context, id int32, c repo.ProductoCampos, set []ImagenRef, deletedBy string) (Saved, error) {
	return s.saveProducto(ctx, c, set, deletedBy, func(tx *trash.Tx) (repo.Producto, error) {
		if _, err := tx.Rows().LockProducto(ctx, id); err != nil {
			return repo.Producto{}, err
		}
		return tx.Rows().UpdateProducto(ctx, id, c)
	})
}

// saveProducto writes a product's row with write, then its variants and,
// when set is not nil, its image set, in one transaction.
func (s *Service) saveProducto(ctx context.Context, c repo.ProductoCampos, set []ImagenRef, deletedBy string, write func(*trash.Tx) (repo.Producto, error)) (Saved, error) {
	var out Saved
	err := s.proto.Run(ctx, func(tx *trash.Tx) error {
		p, err := write(tx)
		if err != nil {
			return err
		}
		if err := saveVariantes(ctx, tx, p.ID, c); err != nil {
			return err
		}
		out, err = saveSet(ctx, tx, p, set, set != nil, deletedBy)
		return err
	})
	if err == nil {
		s.metrics.Trashed(out.Trashed)
	}
	return out, err
}

// DeleteProducto trashes every image of product id and deletes it, in one
// transaction. It returns the trash entries.
func (s *Service) DeleteProducto(ctx context.Context, id int32, deletedBy string) ([]repo.Entrada, error) {
	var entries []repo.Entrada
	err := s.proto.Run(ctx, func(tx *trash.Tx) error {
		var err error
		entries, err = tx.DeleteProducto(ctx, id, deletedBy)
		return err
	})
	if err == nil {
		s.metrics.Trashed(entries)
	}
	return entries, err
}

// saveVariantes replaces the product's variants when the write gives them
// (Balsamoa's variantes), in the same transaction as its images.
func saveVariantes(ctx context.Context, tx *trash.Tx, pid int32, c repo.ProductoCampos) error {
	if c.Variantes == nil {
		return nil
	}
	return tx.Rows().ReplaceVariantes(ctx, pid, *c.Variantes)
}

// saveSet makes set the image set of p (when replace) and returns the
// product with its images. The product row is locked (or new) already.
func saveSet(ctx context.Context, tx *trash.Tx, p repo.Producto, set []ImagenRef, replace bool, deletedBy string) (Saved, error) {
	out := Saved{Producto: Producto{Producto: p}}
	if replace {
		trashed, err := replaceSet(ctx, tx, p.ID, set, deletedBy)
		if err != nil {
			return Saved{}, err
		}
		out.Trashed = trashed
	}
	imgs, err := tx.Rows().ImagenesDe(ctx, []int32{p.ID})
	if err != nil {
		return Saved{}, err
	}
	out.Producto.Imagenes = imgs
	return out, nil
}

// replaceSet decides, from the rows that hold the listed urls (locked), which
// rows product pid adopts or keeps, which external urls it inserts, and which
// of its current images it drops into the trash.
func replaceSet(ctx context.Context, tx *trash.Tx, pid int32, set []ImagenRef, deletedBy string) ([]repo.Entrada, error) {
	urls := make([]string, len(set))
	for i, r := range set {
		urls[i] = r.URL
	}
	rs := tx.Rows()
	// The product row is locked, so its images can only lose rows (image
	// deletes) until the commit: read them first, then take the locks of
	// every url this write may adopt, insert or drop, in key order and
	// before any row lock, as every delete does. Under them the rows read
	// next are exact: two creates naming one new external url insert it
	// once, the second then finds it attached to the first (one product per
	// url), and a drop decides exactly whether a row sharing its url stays.
	current, err := rs.ImagenesDe(ctx, []int32{pid})
	if err != nil {
		return nil, err
	}
	lockURLs := append([]string(nil), urls...)
	for _, img := range current {
		lockURLs = append(lockURLs, img.URL)
	}
	if err := rs.LockURLs(ctx, lockURLs); err != nil {
		return nil, err
	}
	rows, err := rs.LockImagenesPorURL(ctx, urls)
	if err != nil {
		return nil, err
	}
	// For each url the row to use: the product's own first, else an
	// unattached one. Rows come in id order, so the choice is stable.
	own := map[string]int32{}
	free := map[string]int32{}
	taken := map[string]bool{}
	for _, r := range rows {
		switch {
		case r.ProductoID != nil && *r.ProductoID == pid:
			if _, ok := own[r.URL]; !ok {
				own[r.URL] = r.ID
			}
		case r.ProductoID == nil:
			if _, ok := free[r.URL]; !ok {
				free[r.URL] = r.ID
			}
		default:
			taken[r.URL] = true
		}
	}
	keep := map[int32]bool{}
	var ids, orden, extOrden []int32
	var extURLs []string
	for _, r := range set {
		id, ok := own[r.URL]
		if !ok {
			id, ok = free[r.URL]
		}
		switch {
		case ok:
			keep[id] = true
			ids, orden = append(ids, id), append(orden, r.Orden)
		case taken[r.URL]:
			return nil, &SetError{URL: r.URL, Err: ErrImagenAjena}
		case storage.IsLocal(r.URL):
			return nil, &SetError{URL: r.URL, Err: ErrImagenDesconocida}
		default:
			extURLs, extOrden = append(extURLs, r.URL), append(extOrden, r.Orden)
		}
	}
	var drop []int32
	for _, img := range current {
		if !keep[img.ID] {
			drop = append(drop, img.ID)
		}
	}
	var entries []repo.Entrada
	if len(drop) > 0 {
		if entries, err = tx.DeleteImagenes(ctx, drop, repo.All, repo.MotivoProductoPut, deletedBy); err != nil {
			return nil, err
		}
	}
	if len(ids) > 0 {
		if err := tx.Rows().AsignarImagenes(ctx, pid, ids, orden); err != nil {
			return nil, err
		}
	}
	if len(extURLs) > 0 {
		if err := tx.Rows().InsertExternas(ctx, pid, extURLs, extOrden, deletedBy); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

// SetError is a client's mistake in an image set: which url, and why
// (ErrImagenAjena or ErrImagenDesconocida).
type SetError struct {
	URL string
	Err error
}

func (e *SetError) Error() string { return fmt.Sprintf("%q: %v", e.URL, e.Err) }
func (e *SetError) Unwrap() error { return e.Err }
