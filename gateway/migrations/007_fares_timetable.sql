-- What fares refer to in a timetable and the feed import used to drop: a stop's own time
-- zone (fare timeframes are local to it) and a route's fare network (routes.txt network_id).
ALTER TABLE gtfs_stops ADD COLUMN stop_timezone text;
ALTER TABLE gtfs_routes ADD COLUMN network_id text;
