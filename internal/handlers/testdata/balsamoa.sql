-- Balsamoa's own tables next to productos and producto_imagenes (which the
-- migrations already created), as issue 16 describes them: its roles and
-- users (one open session per user in usuarios.sesion_id), categories,
-- sizes, colours, stock variants, and the catalogue view its shop and admin
-- panel read. imagenes reads these; only the tests create them.
CREATE TABLE roles (
    id     serial PRIMARY KEY,
    nombre varchar(50) NOT NULL UNIQUE
);
INSERT INTO roles (id, nombre) VALUES (1, 'Administrador'), (2, 'Cliente');

CREATE TABLE usuarios (
    id             serial PRIMARY KEY,
    nombre         varchar(100) NOT NULL,
    email          varchar(150) NOT NULL UNIQUE,
    contrasena     varchar(255) NOT NULL,
    rol_id         int NOT NULL REFERENCES roles (id),
    activo         boolean NOT NULL DEFAULT true,
    sesion_id      uuid,
    fecha_creacion timestamp DEFAULT now()
);

CREATE TABLE categorias (
    id     serial PRIMARY KEY,
    nombre varchar(100) NOT NULL UNIQUE
);

CREATE TABLE talles (
    id     serial PRIMARY KEY,
    nombre varchar(20) NOT NULL UNIQUE,
    orden  int NOT NULL DEFAULT 0
);

CREATE TABLE colores (
    id     serial PRIMARY KEY,
    nombre varchar(50) NOT NULL,
    hex    varchar(7) NOT NULL
);

CREATE TABLE variantes (
    id          serial PRIMARY KEY,
    producto_id int NOT NULL REFERENCES productos (id) ON DELETE CASCADE,
    talle_id    int NOT NULL REFERENCES talles (id),
    color_id    int NOT NULL REFERENCES colores (id),
    stock       int NOT NULL DEFAULT 0 CHECK (stock >= 0),
    UNIQUE (producto_id, talle_id, color_id)
);

ALTER TABLE productos ADD CONSTRAINT productos_categoria_id_fkey FOREIGN KEY (categoria_id) REFERENCES categorias (id);

CREATE VIEW vista_catalogo_productos AS
SELECT p.id, p.nombre, p.descripcion, p.categoria_id, c.nombre AS categoria, p.precio,
       p.destacado, p.activo, p.fecha_creacion,
       (SELECT i.url FROM producto_imagenes i WHERE i.producto_id = p.id ORDER BY i.orden, i.id LIMIT 1) AS imagen_principal,
       COALESCE((SELECT sum(v.stock) FROM variantes v WHERE v.producto_id = p.id), 0)::int AS stock_total,
       COALESCE((SELECT json_agg(json_build_object('talle', t.nombre, 'cantidad', s.cantidad) ORDER BY t.orden, t.id)
                 FROM (SELECT talle_id, sum(stock)::int AS cantidad FROM variantes WHERE producto_id = p.id GROUP BY talle_id) s
                 JOIN talles t ON t.id = s.talle_id), '[]'::json) AS stock_por_talle,
       COALESCE((SELECT json_agg(DISTINCT co.hex) FROM variantes v JOIN colores co ON co.id = v.color_id WHERE v.producto_id = p.id), '[]'::json) AS colores_hex,
       COALESCE((SELECT json_agg(json_build_object('url', i.url, 'orden', i.orden) ORDER BY i.orden, i.id)
                 FROM producto_imagenes i WHERE i.producto_id = p.id), '[]'::json) AS imagenes,
       COALESCE((SELECT array_agg(DISTINCT v.talle_id) FROM variantes v WHERE v.producto_id = p.id), '{}') AS talle_ids,
       COALESCE((SELECT array_agg(DISTINCT v.color_id) FROM variantes v WHERE v.producto_id = p.id), '{}') AS color_ids
FROM productos p
LEFT JOIN categorias c ON c.id = p.categoria_id;

INSERT INTO categorias (nombre) VALUES ('Remeras'), ('Buzos');
INSERT INTO talles (nombre, orden) VALUES ('S', 1), ('M', 2), ('L', 3);
INSERT INTO colores (nombre, hex) VALUES ('Negro', '#000000'), ('Blanco', '#ffffff');
INSERT INTO usuarios (nombre, email, contrasena, rol_id, sesion_id) VALUES
    ('Ana Admin', 'ana@balsamoa.test', 'x', 1, '6f1c1a3e-0d55-4c51-9a47-1f8f2a3b4c5d'),
    ('Carlos Cliente', 'carlos@balsamoa.test', 'x', 2, '0b9d3c2e-7a61-4f0e-8d22-5e6f7a8b9c0d');
