-- Balsamoa's schema, created only where absent so that imagenes can be
-- pointed at a live Balsamoa database without touching its tables.
CREATE TABLE IF NOT EXISTS productos (
    id             serial PRIMARY KEY,
    nombre         varchar(150) NOT NULL,
    descripcion    text,
    precio         numeric(10,2) NOT NULL,
    categoria_id   int,
    destacado      boolean DEFAULT false,
    activo         boolean DEFAULT true,
    fecha_creacion timestamp DEFAULT now()
);

CREATE TABLE IF NOT EXISTS producto_imagenes (
    id          serial PRIMARY KEY,
    producto_id int NULL REFERENCES productos(id) ON DELETE CASCADE,
    url         varchar(255) NOT NULL,
    orden       int DEFAULT 1
);

---- create above / drop below ----
-- Deliberately empty: the tables may hold Balsamoa's data, which a
-- rollback must never drop.
