package handlers_test

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/imagenes/imagenes/internal/auth"
)

// Sessions of testdata/balsamoa.sql: user 1 is an Administrador, user 2 a
// Cliente.
const (
	anaSesion    = "6f1c1a3e-0d55-4c51-9a47-1f8f2a3b4c5d"
	carlosSesion = "0b9d3c2e-7a61-4f0e-8d22-5e6f7a8b9c0d"
)

// balsamoaToken is what Balsamoa's login signs with FIRMA_JWT (= JWT_SECRET).
func balsamoaToken(t testing.TB, id, rol any, sesion any) string {
	t.Helper()
	c := jwt.MapClaims{"id": id, "rol": rol}
	if sesion != nil {
		c["sesion_id"] = sesion
	}
	return mintWith(t, c)
}

// jsonNull is a claim whose JSON is null.
type jsonNull struct{}

func (jsonNull) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// cookie sends token as Balsamoa's panel does: the cookie "token".
func cookie(token string) map[string]string { return map[string]string{"Cookie": "token=" + token} }

// TestBalsamoaSessions: Balsamoa's own session tokens are accepted as SPEC
// §3 and §12 say — id is the user, rol decides admin, and on a database with
// its usuarios table the token must name a session still open: its user
// exists, is activo and has that sesion_id. A token naming no session was
// admin with no lookup at all, after activo=false and for a user id that
// does not exist (issue 23 item 11): now 401.
func TestBalsamoaSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{balsamoa: true})
	e.exec(`INSERT INTO usuarios (id, nombre, email, contrasena, rol_id, activo, sesion_id)
VALUES (3, 'Baja', 'baja@balsamoa.test', 'x', 1, false, '11111111-2222-3333-4444-555555555555')`)
	plain := newEnv(t) // no usuarios table: nothing to check sessions against

	tests := []struct {
		name   string
		env    *env
		path   string
		token  string
		bearer bool // else the cookie
		want   int
	}{
		{"admin, open session, cookie", e, "/api/v1/admin/imagenes", balsamoaToken(t, 1, 1, anaSesion), false, 200},
		{"admin, open session, bearer", e, "/api/v1/admin/imagenes", balsamoaToken(t, 1, 1, anaSesion), true, 200},
		{"rol and id as text", e, "/api/v1/admin/imagenes", balsamoaToken(t, "1", "1", anaSesion), false, 200},
		{"another session of the user", e, "/api/v1/admin/imagenes", balsamoaToken(t, 1, 1, carlosSesion), false, 401},
		{"inactive user", e, "/api/v1/admin/imagenes", balsamoaToken(t, 3, 1, "11111111-2222-3333-4444-555555555555"), false, 401},
		{"unknown user", e, "/api/v1/admin/imagenes", balsamoaToken(t, 999, 1, anaSesion), false, 401},
		{"session not a string", e, "/api/v1/admin/imagenes", balsamoaToken(t, 1, 1, 7), false, 401},
		{"session not a uuid", e, "/api/v1/admin/imagenes", balsamoaToken(t, 1, 1, "nope"), false, 401},
		{"id not a number", e, "/api/v1/admin/imagenes", balsamoaToken(t, "uno", 1, anaSesion), false, 401},
		{"id with a fraction", e, "/api/v1/admin/imagenes", balsamoaToken(t, 1.5, 1, anaSesion), false, 401},
		{"id zero", e, "/api/v1/admin/imagenes", balsamoaToken(t, 0, 1, anaSesion), false, 401},
		{"id beyond int64", e, "/api/v1/admin/imagenes", balsamoaToken(t, 1e30, 1, anaSesion), false, 401},
		{"Cliente on an admin route", e, "/api/v1/admin/imagenes", balsamoaToken(t, 2, 2, carlosSesion), false, 403},
		{"Cliente on a Cat route", e, "/api/images", balsamoaToken(t, 2, 2, carlosSesion), true, 200},
		{"no sesion_id, active user", e, "/api/v1/admin/imagenes", balsamoaToken(t, 1, 1, nil), false, 401},
		{"no sesion_id, inactive user", e, "/api/v1/admin/imagenes", balsamoaToken(t, 3, 1, nil), false, 401},
		{"no sesion_id, unknown user", e, "/api/v1/admin/imagenes", balsamoaToken(t, 999, 1, nil), true, 401},
		{"no sesion_id, Cat route", e, "/api/images", balsamoaToken(t, 2, 2, nil), true, 401},
		{"sesion_id null", e, "/api/v1/admin/imagenes", balsamoaToken(t, 1, 1, jsonNull{}), false, 401},
		{"{sub, role} still works", e, "/api/v1/admin/imagenes", e.admin, true, 200},
		{"no usuarios table: not checked", plain, "/api/v1/admin/imagenes", balsamoaToken(t, 1, 1, "nope"), false, 200},
		{"no usuarios table: rol decides", plain, "/api/v1/admin/imagenes", balsamoaToken(t, 2, 2, nil), false, 403},
		{"no usuarios table: no sesion_id needed", plain, "/api/v1/admin/imagenes", balsamoaToken(t, 1, 1, nil), false, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req{method: "GET", path: tt.path}
			if tt.bearer {
				r.token = tt.token
			} else {
				r.header = cookie(tt.token)
			}
			if got := tt.env.do(t, r); got.status != tt.want {
				t.Errorf("got %d %s, want %d", got.status, got.body, tt.want)
			}
		})
	}

	t.Run("a logout rotates the session: 401 from then on", func(t *testing.T) {
		e := e.on(t)
		e.exec(`INSERT INTO usuarios (id, nombre, email, contrasena, rol_id, sesion_id) VALUES (4, 'Otra', 'otra@balsamoa.test', 'x', 1, $1)`, anaSesion)
		tok4 := balsamoaToken(t, 4, 1, anaSesion)
		if got := e.do(t, req{method: "GET", path: "/api/v1/admin/imagenes", header: cookie(tok4)}); got.status != 200 {
			t.Fatalf("before: got %d, want 200", got.status)
		}
		e.exec(`UPDATE usuarios SET sesion_id = gen_random_uuid() WHERE id = 4`)
		got := e.do(t, req{method: "GET", path: "/api/v1/admin/imagenes", header: cookie(tok4)})
		if got.status != 401 || got.json(t)["mensaje"] == nil {
			t.Errorf("after: got %d %s, want 401 {mensaje}", got.status, got.body)
		}
	})

	t.Run("a deactivated user: 401 from the next request on, remembered or not", func(t *testing.T) {
		e := e.on(t)
		const s5 = "55555555-2222-3333-4444-555555555555"
		e.exec(`INSERT INTO usuarios (id, nombre, email, contrasena, rol_id, activo, sesion_id) VALUES (5, 'Quinta', 'quinta@balsamoa.test', 'x', 1, true, $1)`, s5)
		tok5 := balsamoaToken(t, 5, 1, s5)
		for i := 0; i < 2; i++ { // the second is answered from the verified-token cache
			if got := e.do(t, req{method: "GET", path: "/api/v1/admin/imagenes", header: cookie(tok5)}); got.status != 200 {
				t.Fatalf("before, request %d: got %d, want 200", i, got.status)
			}
		}
		e.exec(`UPDATE usuarios SET activo = false WHERE id = 5`)
		for _, r := range []req{
			{method: "GET", path: "/api/v1/admin/imagenes", header: cookie(tok5)},
			{method: "GET", path: "/api/v1/admin/imagenes", token: tok5},
			{method: "GET", path: "/api/images", token: tok5},
		} {
			if got := e.do(t, r); got.status != 401 {
				t.Errorf("after activo=false, %s %s: got %d %s, want 401", r.method, r.path, got.status, got.body)
			}
		}
		e.exec(`DELETE FROM usuarios WHERE id = 5`)
		if got := e.do(t, req{method: "GET", path: "/api/v1/admin/imagenes", token: tok5}); got.status != 401 {
			t.Errorf("after the user is gone: got %d, want 401", got.status)
		}
	})

	t.Run("JWT_ADMIN_ROLES", func(t *testing.T) {
		custom := newEnv(t, envOpts{auth: &auth.Config{Secret: testSecret, AdminRoles: []string{"2", "gerente"}}})
		for _, c := range []struct {
			rol  any
			want int
		}{{1, 403}, {2, 200}, {"gerente", 200}} {
			if got := custom.do(t, req{method: "GET", path: "/api/v1/admin/imagenes", header: cookie(balsamoaToken(t, 1, c.rol, nil))}); got.status != c.want {
				t.Errorf("rol %v: got %d, want %d", c.rol, got.status, c.want)
			}
		}
	})
}
