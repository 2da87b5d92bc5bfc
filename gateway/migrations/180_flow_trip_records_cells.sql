-- Two indexes that let a release read its trip records once (a plain GROUP BY) and nothing
-- else of any size:
-- - by fare-zone cell: the few cells whose trips alone cannot decide k (k to k x cap - 1
--   trips) get their distinct travellers counted from just their records, found here,
--   instead of by a second scan of the period. Other zone systems fall back to that scan.
-- - the synthetic (demo) records only: whether a release counts any is one index probe
--   (there are none in production, so the index stays empty) instead of a bool_or per record.
CREATE INDEX flow_trip_records_fare_cells
    ON flow_trip_records (period, origin_fare, destination_fare, hour);
CREATE INDEX flow_trip_records_synthetic ON flow_trip_records (period, seq) WHERE synthetic;
