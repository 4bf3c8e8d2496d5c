-- Serialises the creation of the mapping's target schema and tables: workers started at the same moment wait
-- here, then find what the first one created (the lock belongs to the transaction and ends with it).
-- Bound parameter: :resource (names the target schema).
DECLARE @granted INT;
EXEC @granted = sp_getapplock @Resource = :resource, @LockMode = N'Exclusive', @LockOwner = N'Transaction',
    @LockTimeout = 600000;
IF @granted < 0 THROW 51000, N'the target DDL lock (sp_getapplock) was not granted within 10 minutes', 1;
