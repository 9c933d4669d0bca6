package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// keptInformes is how many pass reports are kept: enough history to read
// back a day of ten-minute passes, small enough never to matter.
const keptInformes = 200

// SaveInforme stores the JSON report of a real janitor pass that ended at
// fecha and drops the oldest beyond keptInformes.
func (s *Store) SaveInforme(ctx context.Context, fecha time.Time, informe []byte) error {
	const q = `WITH n AS (INSERT INTO conserje_informes (fecha, informe) VALUES ($1, $2) RETURNING id)
DELETE FROM conserje_informes WHERE id <= (SELECT id FROM n) - $3`
	if _, err := s.db.Exec(ctx, q, fecha, informe, keptInformes); err != nil {
		return fmt.Errorf("save janitor report: %w", translate(err))
	}
	return nil
}

// LastInforme returns the newest stored report; ErrNotFound when there is
// none yet.
func (s *Store) LastInforme(ctx context.Context) (fecha time.Time, informe []byte, err error) {
	const q = `SELECT fecha, informe FROM conserje_informes ORDER BY id DESC LIMIT 1`
	err = s.db.QueryRow(ctx, q).Scan(&fecha, &informe)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil, ErrNotFound
	}
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("last janitor report: %w", translate(err))
	}
	return fecha, informe, nil
}

// CountImagenes counts image rows (the admin page's overview).
func (s *Store) CountImagenes(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRow(ctx, `SELECT count(*) FROM producto_imagenes`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count images: %w", translate(err))
	}
	return n, nil
}
