-- public.appointment: one row per appointment; status decoded, length and chair-side waits derived.
SELECT
  a."AptNum"                               AS apt_num,
  a."PatNum"                               AS pat_num,
  a."AptStatus"                            AS apt_status,
  CASE a."AptStatus"
    WHEN 0 THEN 'None' WHEN 1 THEN 'Scheduled' WHEN 2 THEN 'Complete' WHEN 3 THEN 'UnschedList'
    WHEN 4 THEN 'ASAP' WHEN 5 THEN 'Broken' WHEN 6 THEN 'Planned' WHEN 7 THEN 'PtNote'
    WHEN 8 THEN 'PtNoteCompleted' ELSE 'Unknown'
  END                                      AS apt_status_label,
  a."AptDateTime"                          AS apt_date_time,
  a."AptDateTime"::date                    AS apt_date,
  -- Each character of the time pattern is one 5-minute slot.
  char_length(coalesce(a."Pattern", '')) * 5 AS length_minutes,
  a."ProvNum"                              AS prov_num,
  a."ProvHyg"                              AS prov_hyg,
  a."Op"                                   AS op,
  a."ClinicNum"                            AS clinic_num,
  a."Confirmed"                            AS confirmed,
  a."IsNewPatient" <> 0                    AS is_new_patient,
  a."IsHygiene" <> 0                       AS is_hygiene,
  btrim(a."ProcDescript")                  AS proc_descript,
  a."DateTimeArrived"                      AS date_time_arrived,
  a."DateTimeSeated"                       AS date_time_seated,
  a."DateTimeDismissed"                    AS date_time_dismissed,
  CASE WHEN a."DateTimeSeated" >= a."DateTimeArrived"
       THEN (extract(epoch FROM a."DateTimeSeated" - a."DateTimeArrived") / 60)::integer END AS wait_minutes,
  a."SecDateTEntry"                        AS sec_date_t_entry,
  a."DateTStamp"                           AS date_t_stamp
FROM raw."appointment" AS a
