-- Registers the partitions (snapshot_dt=YYYY-MM-DD/ folders) that the Glue split jobs wrote under a
-- part_* table's location. {table} is a Glue catalog name already checked to be a plain identifier.
MSCK REPAIR TABLE `{table}`
