-- A foreign key checks every COPYed row one by one: for the 445,217 stop_times of a
-- city feed that more than doubled the time to store it. The two large tables keep
-- their primary keys; their rows still go when their feed version goes (a trigger
-- replaces ON DELETE CASCADE), and only gtfs.store writes them, right after the
-- version row in the same transaction.
ALTER TABLE gtfs_stop_times DROP CONSTRAINT gtfs_stop_times_feed_version_id_fkey;
ALTER TABLE gtfs_shapes DROP CONSTRAINT gtfs_shapes_feed_version_id_fkey;

CREATE FUNCTION gtfs_delete_version_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM gtfs_stop_times WHERE feed_version_id = OLD.id;
    DELETE FROM gtfs_shapes WHERE feed_version_id = OLD.id;
    RETURN OLD;
END;
$$;

CREATE TRIGGER feed_versions_delete_rows AFTER DELETE ON feed_versions
    FOR EACH ROW EXECUTE FUNCTION gtfs_delete_version_rows();
