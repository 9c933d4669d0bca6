package repo

import (
	"context"
	"fmt"
)

// Balsamoa's sessions (SPEC §3). Balsamoa keeps one open session per user
// in usuarios.sesion_id and rotates it on logout or remote sign-out; a
// token it signed names that session, and is valid only while the row is
// active with it. imagenes reads that table, never writes it; whether it is
// there is DetectBalsamoa's Sesiones.

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
