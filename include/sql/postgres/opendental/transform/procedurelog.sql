-- public.procedurelog: one row per procedure; status decoded, gross and net fee derived.
SELECT
  pl."ProcNum"                             AS proc_num,
  pl."PatNum"                              AS pat_num,
  pl."AptNum"                              AS apt_num,
  pl."CodeNum"                             AS code_num,
  pl."ProvNum"                             AS prov_num,
  pl."ClinicNum"                           AS clinic_num,
  pl."ProcDate"                            AS proc_date,
  pl."ProcStatus"                          AS proc_status,
  CASE pl."ProcStatus"
    WHEN 1 THEN 'TreatmentPlanned' WHEN 2 THEN 'Complete' WHEN 3 THEN 'ExistingCurrentProv'
    WHEN 4 THEN 'ExistingOtherProv' WHEN 5 THEN 'Referred' WHEN 6 THEN 'Deleted' WHEN 7 THEN 'Condition'
    WHEN 8 THEN 'TreatmentPlanInactive' ELSE 'Unknown'
  END                                      AS proc_status_label,
  btrim(pl."ToothNum")                     AS tooth_num,
  btrim(pl."Surf")                         AS surf,
  pl."UnitQty"                             AS unit_qty,
  pl."BaseUnits"                           AS base_units,
  round(pl."ProcFee"::numeric, 2)          AS proc_fee,
  -- OpenDental bills the fee per unit (base units plus quantity), at least once.
  round((pl."ProcFee" * greatest(pl."UnitQty" + pl."BaseUnits", 1))::numeric, 2) AS gross_fee,
  round(pl."Discount"::numeric, 2)         AS discount,
  round((pl."ProcFee" * greatest(pl."UnitQty" + pl."BaseUnits", 1) - pl."Discount")::numeric, 2) AS net_fee,
  pl."ProcStatus" = 2                      AS is_complete,
  pl."DateComplete"                        AS date_complete,
  pl."DateEntryC"                          AS date_entry_c,
  pl."SecDateEntry"                        AS sec_date_entry,
  pl."DateTStamp"                          AS date_t_stamp
FROM raw."procedurelog" AS pl
