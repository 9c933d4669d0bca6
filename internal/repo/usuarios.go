package repo

import (
	"context"
	"fmt"
)

// Balsamoa's sessions (SPEC §3). Balsamoa keeps one open session per user
// in usuarios.sesion_id and rotates it on logout or remote sign-out; a
// token it signed names that session, and is valid only while the row is
// active with it. imagenes reads that table, never writes it.

// HasSesiones reports whether the database has Balsamoa's usuarios table
// with the columns a session check reads (id, activo, sesion_id). Asked
// once at start-up: a database without it has no sessions to check.
func (s *Store) HasSesiones(ctx context.Context) (bool, error) {
	const q = `SELECT count(*) = 3 FROM pg_attribute
WHERE attrelid = to_regclass('usuarios') AND attname IN ('id', 'activo', 'sesion_id') AND NOT attisdropped`
	var ok bool
	if err := s.db.QueryRow(ctx, q).Scan(&ok); err != nil {
		return false, fmt.Errorf("has sesiones: %w", translate(err))
	}
	return ok, nil
}

// SesionActiva reports whether user id is active with session sesionID: one
// lookup by primary key. sesion_id is compared as text, so a uuid or a
// varchar column both work.
func (s *Store) SesionActiva(ctx context.Context, id int64, sesionID string) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM usuarios WHERE id = $1::bigint AND activo AND sesion_id::text = $2)`
	var ok bool
	if err := s.db.QueryRow(ctx, q, id, sesionID).Scan(&ok); err != nil {
		return false, fmt.Errorf("sesion activa: %w", translate(err))
	}
	return ok, nil
}
