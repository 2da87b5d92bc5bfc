-- Two indexes that let a release read its trip records once (a plain GROUP BY) and little
-- else:
-- - by fare-zone cell, with the pseudonym: the few cells whose trips alone cannot decide k
--   (k to k x cap - 1 trips) get their distinct travellers counted from this index alone
--   (an index-only scan of just their entries) instead of by a second scan of the period.
--   Without the pseudonym each of their records would be a random read of the heap, slow
--   as soon as the heap is not cached. Other zone systems fall back to that second scan.
-- - the synthetic (demo) records only: whether a release counts any is one index probe
--   (there are none in production, so the index stays empty) instead of a bool_or per record.
CREATE INDEX flow_trip_records_fare_cells
    ON flow_trip_records (period, origin_fare, destination_fare, hour, seq) INCLUDE (pseudonym);
CREATE INDEX flow_trip_records_synthetic ON flow_trip_records (period, seq) WHERE synthetic;
