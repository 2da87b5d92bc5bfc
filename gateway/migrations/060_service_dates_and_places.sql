-- The days a feed version's trips run, for its service period and its warnings (a calendar
-- that has ended, no service in the coming week), which change with the date, not the feed.
ALTER TABLE feed_versions ADD COLUMN service_dates date[];

-- Versions stored before: their dates from the stored calendar, as the upload computes them.
UPDATE feed_versions v SET service_dates = coalesce((
    SELECT array_agg(day ORDER BY day) FROM (
        SELECT g::date AS day
          FROM gtfs_calendar c
          CROSS JOIN generate_series(c.start_date, c.end_date, interval '1 day') AS g
         WHERE c.feed_version_id = v.id
           AND (ARRAY[c.monday, c.tuesday, c.wednesday, c.thursday, c.friday, c.saturday,
                      c.sunday])[extract(isodow FROM g)::int] = 1
           AND NOT EXISTS (
               SELECT 1 FROM gtfs_calendar_dates x
                WHERE x.feed_version_id = v.id AND x.service_id = c.service_id
                  AND x.date = g::date AND x.exception_type = 2)
        UNION
        SELECT date FROM gtfs_calendar_dates
         WHERE feed_version_id = v.id AND exception_type = 1
    ) AS days), '{}')
 WHERE v.status = 'ready';

-- `place:<stop id>` names a stop that several operators share (gtfs/snapshot/stop_places.py):
-- no operator may be called `place`, or its stops' ids would read as shared places.
ALTER TABLE operators ADD CONSTRAINT operators_id_not_place CHECK (id <> 'place');
