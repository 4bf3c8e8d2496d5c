REPLACE INTO `etl_run_validation`
  (run_id, table_name, strategy, source_rows, replica_rows, raw_rows, public_rows, window_start,
   changed_source, changed_replica, changed_raw, deleted_replica, deleted_raw, deleted_public, ok, problem,
   checked_at, verified_rows, repaired_replica, repaired_raw, repaired_public, conversions)
VALUES (%(run_id)s, %(table)s, %(strategy)s, %(source_rows)s, %(replica_rows)s, %(raw_rows)s, %(public_rows)s,
        %(window_start)s, %(changed_source)s, %(changed_replica)s, %(changed_raw)s, %(deleted_replica)s,
        %(deleted_raw)s, %(deleted_public)s, %(ok)s, %(problem)s, UTC_TIMESTAMP(), %(verified_rows)s,
        %(repaired_replica)s, %(repaired_raw)s, %(repaired_public)s, %(conversions)s)
