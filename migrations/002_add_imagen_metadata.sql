-- Nullable columns only: rows written by Balsamoa keep working and simply
-- have no owner, size, type or hash.
ALTER TABLE producto_imagenes
    ADD COLUMN IF NOT EXISTS owner_sub    text,
    ADD COLUMN IF NOT EXISTS bytes        bigint,
    ADD COLUMN IF NOT EXISTS content_type text,
    ADD COLUMN IF NOT EXISTS sha256       text,
    ADD COLUMN IF NOT EXISTS created_at   timestamptz DEFAULT now();

-- The janitor and restore look images up by url; product reads by product.
CREATE INDEX IF NOT EXISTS producto_imagenes_url_idx ON producto_imagenes (url);
CREATE INDEX IF NOT EXISTS producto_imagenes_producto_idx ON producto_imagenes (producto_id, orden, id);
CREATE INDEX IF NOT EXISTS producto_imagenes_owner_idx ON producto_imagenes (owner_sub, id) WHERE owner_sub IS NOT NULL;
CREATE INDEX IF NOT EXISTS producto_imagenes_unattached_idx ON producto_imagenes (id) WHERE producto_id IS NULL;

---- create above / drop below ----
DROP INDEX IF EXISTS producto_imagenes_unattached_idx;
DROP INDEX IF EXISTS producto_imagenes_owner_idx;
DROP INDEX IF EXISTS producto_imagenes_producto_idx;
DROP INDEX IF EXISTS producto_imagenes_url_idx;
ALTER TABLE producto_imagenes
    DROP COLUMN IF EXISTS created_at,
    DROP COLUMN IF EXISTS sha256,
    DROP COLUMN IF EXISTS content_type,
    DROP COLUMN IF EXISTS bytes,
    DROP COLUMN IF EXISTS owner_sub;
