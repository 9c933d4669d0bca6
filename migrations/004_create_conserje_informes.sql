-- The janitor's (conserje's) reports of its real passes, so that the admin
-- page can show the last one whichever process ran it (the standalone
-- janitor, or serve with JANITOR_ENABLED). Only the newest are kept.
CREATE TABLE IF NOT EXISTS conserje_informes (
    id      bigserial PRIMARY KEY,
    fecha   timestamptz NOT NULL DEFAULT now(),
    informe jsonb NOT NULL
);

---- create above / drop below ----
DROP TABLE IF EXISTS conserje_informes;
