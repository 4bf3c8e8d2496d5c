"""What the ``app_id % mod`` partition jobs need from a database: engines (``engines``), the reader
connection (``reading``), table names and the partition predicate (``tables``), one bulk insert per dialect
(``bulk``), the classification of database errors (``errors``) and the read -> transform -> write overlap
of one partition (``batches``)."""
