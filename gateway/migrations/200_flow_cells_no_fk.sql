-- A release's cells name an existing release, checked once per statement instead of once per
-- cell: the foreign key ran a query of its own for each of the thousands of cells a release
-- stores (0.10-0.39 s of a 1 s release under load, against 0.03 s for the whole COPY
-- without it). Releases are never deleted (their trigger refuses it), so the foreign key's
-- other half, keeping a referenced release from going, has nothing left to guard.
ALTER TABLE flow_release_cells DROP CONSTRAINT flow_release_cells_release_id_fkey;

CREATE FUNCTION flow_release_cells_have_release() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT FROM (SELECT DISTINCT release_id FROM new_cells) c
        WHERE NOT EXISTS (SELECT FROM flow_releases r WHERE r.id = c.release_id)
    ) THEN
        RAISE EXCEPTION 'flow_release_cells: a cell names a release that does not exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER flow_release_cells_have_release
    AFTER INSERT ON flow_release_cells REFERENCING NEW TABLE AS new_cells
    FOR EACH STATEMENT EXECUTE FUNCTION flow_release_cells_have_release();
