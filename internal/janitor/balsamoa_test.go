package janitor_test

import (
	"context"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagenes/imagenes/internal/janitor"
)

// balsamoaSite is what Balsamoa keeps under public/recursos/ besides its
// product images: the shop's and the admin panel's own files. None of them
// is ever the janitor's, whatever its age (issue 16).
var balsamoaSite = []string{
	"/recursos/css/estilos.css",
	"/recursos/css/admin.css",
	"/recursos/js/tienda.js",
	"/recursos/js/admin/productos.js",
	"/recursos/fonts/Montserrat-Regular.ttf",
	"/recursos/imagenes/logo balsamoa.webp",
	"/recursos/imagenes/carrusel1.webp",
	"/recursos/imagenes/carrusel2.webp",
	"/recursos/imagenes/icono-carrito.svg",
	"/recursos/admin/panel.html",
	// Not images, though inside the product folder.
	"/recursos/imagenes/productos/marca.svg",
	"/recursos/imagenes/productos/leeme.html",
	"/recursos/imagenes/productos/.DS_Store",
}

// TestBalsamoaFolder runs a dry run and then a real pass over a copy of a
// Balsamoa public/ folder: only product images are ever candidates, the dry
// run names exactly what the real pass then moves, and every site file is
// left as it was.
func TestBalsamoaFolder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for _, u := range balsamoaSite {
		f.file(u)
	}
	// Balsamoa's own rows: written before imagenes, no created_at.
	var pid int32
	if err := f.pool.QueryRow(ctx, `INSERT INTO productos (nombre, precio) VALUES ('Remera', 9500) RETURNING id`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	legacy := []struct {
		url      string
		producto *int32
	}{
		{"/recursos/imagenes/productos/remera azul.webp", &pid},
		{"/recursos/imagenes/productos/remera azul espalda.webp", &pid},
		{"/recursos/imagenes/productos/borrador sin producto.webp", nil}, // unattached, age unknown: kept
	}
	for _, l := range legacy {
		f.file(l.url)
		f.exec(`INSERT INTO producto_imagenes (producto_id, url, orden, created_at) VALUES ($1, $2, 1, NULL)`, l.producto, l.url)
	}
	// Rows imagenes wrote long ago with no product: a product image is
	// stale; a row naming a site image (someone attached the logo) is not
	// a candidate, nor its file.
	staleUpload := "/recursos/imagenes/productos/subida vieja.png"
	f.file(staleUpload)
	f.exec(`INSERT INTO producto_imagenes (url, orden, created_at) VALUES ($1, 1, $2)`, staleUpload, old)
	f.exec(`INSERT INTO producto_imagenes (url, orden, created_at) VALUES ($1, 1, $2)`, "/recursos/imagenes/carrusel1.webp", old)
	// Product images without a row: orphans, spaces and upper case included.
	orphans := []string{
		"/recursos/imagenes/productos/buzo gris 2.webp",
		"/recursos/imagenes/productos/Campera Negra.JPG",
		"/recursos/imagenes/productos/ab/3f1c-perdida.png",
	}
	for _, u := range orphans {
		f.file(u)
	}
	siteBefore := f.siteFiles(t)

	c := cfg()
	c.DryRun, c.List = true, true
	dry, err := f.j.Run(ctx, c)
	if err != nil {
		t.Fatalf("dry run: %v (%+v)", err, dry)
	}
	wantItems := map[string][]string{
		"orphans":    sorted(orphans),
		"unattached": {staleUpload},
	}
	if diff := cmp.Diff(wantItems, itemURLs(dry)); diff != "" {
		t.Errorf("dry run items (-want +got):\n%s", diff)
	}
	if dry.Orphans != len(orphans) || dry.Unattached != 1 {
		t.Errorf("dry run got %d orphans and %d unattached, want %d and 1", dry.Orphans, dry.Unattached, len(orphans))
	}

	c.DryRun = false
	rep, err := f.j.Run(ctx, c)
	if err != nil {
		t.Fatalf("pass: %v (%+v)", err, rep)
	}
	if diff := cmp.Diff(wantItems, itemURLs(rep)); diff != "" {
		t.Errorf("pass items (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(siteBefore, f.siteFiles(t)); diff != "" {
		t.Errorf("site files changed (-before +after):\n%s", diff)
	}
	for _, u := range append(orphans, staleUpload) {
		if f.isLive(u) {
			t.Errorf("%s: still live, want it moved to the trash", u)
		}
	}
	for _, l := range legacy {
		if !f.isLive(l.url) {
			t.Errorf("legacy image %s: gone, want it in place", l.url)
		}
	}
	if n := f.count(`SELECT count(*) FROM imagenes_papelera WHERE url NOT LIKE '/recursos/imagenes/productos/%'`); n != 0 {
		t.Errorf("got %d trash entries outside the product folder, want 0", n)
	}
	if n := f.count(`SELECT count(*) FROM producto_imagenes WHERE url = '/recursos/imagenes/carrusel1.webp'`); n != 1 {
		t.Errorf("got %d rows for the site image, want it kept", n)
	}
}

// siteFiles maps every site file to its contents.
func (f *fixture) siteFiles(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, u := range balsamoaSite {
		if !f.kit.Exists(t, key(u)) {
			out[u] = "missing"
			continue
		}
		out[u] = string(f.kit.Read(t, key(u)))
	}
	return out
}

// itemURLs is a report's listing as sorted urls by kind.
func itemURLs(r janitor.Report) map[string][]string {
	out := map[string][]string{}
	for kind, items := range r.Items {
		for _, it := range items {
			out[kind] = append(out[kind], it.URL)
		}
		sort.Strings(out[kind])
	}
	return out
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}
