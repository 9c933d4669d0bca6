package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/imagenes/imagenes/internal/janitor"
	"github.com/imagenes/imagenes/internal/repo"
)

type janitorRunner interface {
	Run(ctx context.Context, cfg janitor.Config) (janitor.Report, error)
}

type conserjeStore interface {
	LastInforme(ctx context.Context) (time.Time, []byte, error)
	GetTrashStats(ctx context.Context) (repo.TrashStats, error)
	CountImagenes(ctx context.Context) (int64, error)
}

// conserjeHandler lets the admin read the janitor's last report and run a
// dry pass (SPEC §11).
type conserjeHandler struct {
	janitor janitorRunner // nil: no janitor wired (501)
	cfg     janitor.Config
	store   conserjeStore
}

// errPassBusy: another process holds the janitor's pass lock.
var errPassBusy = errors.New("another janitor pass holds the lock")

// errNoJanitor: the app was built without a janitor.
var errNoJanitor = errors.New("no janitor in this process")

// simulate: POST /api/v1/admin/conserje/simular[?detalle=true]. A dry
// pass now: 200 with exactly `janitor --once --dry-run --json`'s report,
// refusals included (a refusal is an answer, with its reason in "refused");
// 409 while another pass holds the lock. ?detalle=true adds the items.
func (h *conserjeHandler) simulate(c *fiber.Ctx) error {
	if h.janitor == nil {
		return errNoJanitor
	}
	list, err := queryBool(c, "detalle")
	if err != nil {
		return err
	}
	cfg := h.cfg
	cfg.DryRun, cfg.List, cfg.Progress = true, list, nil
	// A pass may take longer than one request's database timeout
	// (UserContext): it runs to its end, like the CLI's.
	rep, err := h.janitor.Run(c.Context(), cfg)
	switch {
	case rep.Skipped:
		return errPassBusy
	case err != nil && !errors.Is(err, janitor.ErrRefused):
		return err
	}
	return c.JSON(rep)
}

// conserjeJSON is GET /api/v1/admin/conserje's answer.
type conserjeJSON struct {
	// Ultimo is the last real pass's report (as `janitor --once --json`
	// prints it), null before the first; Fecha is when it ended.
	Ultimo   json.RawMessage `json:"ultimo"`
	Fecha    *time.Time      `json:"fecha"`
	Imagenes int64           `json:"imagenes"`
	Papelera struct {
		Entradas   int64      `json:"entradas"`
		Bytes      int64      `json:"bytes"`
		MasAntigua *time.Time `json:"mas_antigua"`
	} `json:"papelera"`
	RetencionHoras float64 `json:"retencion_horas"`
}

// last: GET /api/v1/admin/conserje.
func (h *conserjeHandler) last(c *fiber.Ctx) error {
	ctx := c.UserContext()
	var out conserjeJSON
	fecha, informe, err := h.store.LastInforme(ctx)
	switch {
	case errors.Is(err, repo.ErrNotFound):
		out.Ultimo = json.RawMessage("null")
	case err != nil:
		return err
	default:
		out.Ultimo, out.Fecha = informe, &fecha
	}
	if out.Imagenes, err = h.store.CountImagenes(ctx); err != nil {
		return err
	}
	st, err := h.store.GetTrashStats(ctx)
	if err != nil {
		return err
	}
	out.Papelera.Entradas, out.Papelera.Bytes, out.Papelera.MasAntigua = st.Entries, st.Bytes, st.Oldest
	out.RetencionHoras = h.cfg.Retention.Hours()
	return c.JSON(out)
}
