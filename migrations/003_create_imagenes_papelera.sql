-- The trash: everything needed to restore a deleted image with the same id,
-- url, product and order. The file itself lives in STORAGE_DIR/.papelera
-- under a name derived from (id, eliminado_en, url) by storage.TrashName.
CREATE TABLE IF NOT EXISTS imagenes_papelera (
    id            bigserial PRIMARY KEY,
    imagen_id     int,                 -- the row's old id; NULL for orphan files the janitor found
    producto_id   int,                 -- no foreign key: the product may be deleted meanwhile
    url           varchar(255) NOT NULL,
    orden         int,
    owner_sub     text,
    bytes         bigint,
    content_type  text,
    sha256        text,
    creado_en     timestamptz,         -- when the image was first stored
    motivo        text NOT NULL,       -- why it was trashed: imagen, producto_put, producto_delete, huerfana, sin_producto, ...
    eliminado_por text,                -- sub of the token that deleted it, or 'janitor'
    eliminado_en  timestamptz NOT NULL DEFAULT now(),
    sin_archivo   boolean NOT NULL DEFAULT false  -- the file was already gone (or the url is external)
);

CREATE INDEX IF NOT EXISTS imagenes_papelera_eliminado_idx ON imagenes_papelera (eliminado_en, id);
CREATE INDEX IF NOT EXISTS imagenes_papelera_imagen_idx ON imagenes_papelera (imagen_id);

---- create above / drop below ----
DROP TABLE IF EXISTS imagenes_papelera;
