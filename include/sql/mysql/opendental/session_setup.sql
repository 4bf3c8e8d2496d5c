-- Every pipeline session: UTC for TIMESTAMP columns (no shift between servers), zero dates and explicit
-- zero keys accepted as they are (OpenDental stores both), no strict-mode rejections of legacy values.
SET SESSION time_zone = '+00:00', SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', SESSION net_read_timeout = 600,
    SESSION net_write_timeout = 600
