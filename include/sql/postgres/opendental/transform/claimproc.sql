-- public.claimproc: one row per insurance estimate/payment line; status decoded, patient share derived.
SELECT
  cp."ClaimProcNum"                        AS claim_proc_num,
  cp."ProcNum"                             AS proc_num,
  cp."ClaimNum"                            AS claim_num,
  cp."PatNum"                              AS pat_num,
  cp."ProvNum"                             AS prov_num,
  cp."PlanNum"                             AS plan_num,
  cp."ClinicNum"                           AS clinic_num,
  cp."Status"                              AS status,
  CASE cp."Status"
    WHEN 0 THEN 'NotReceived' WHEN 1 THEN 'Received' WHEN 2 THEN 'Preauth' WHEN 3 THEN 'Adjustment'
    WHEN 4 THEN 'Supplemental' WHEN 5 THEN 'CapClaim' WHEN 6 THEN 'Estimate' WHEN 7 THEN 'CapComplete'
    WHEN 8 THEN 'CapEstimate' WHEN 9 THEN 'InsHist' ELSE 'Unknown'
  END                                      AS status_label,
  cp."Status" IN (1, 4)                    AS is_paid,
  round(cp."FeeBilled"::numeric, 2)        AS fee_billed,
  round(cp."InsPayEst"::numeric, 2)        AS ins_pay_est,
  round(cp."InsPayAmt"::numeric, 2)        AS ins_pay_amt,
  round(cp."DedApplied"::numeric, 2)       AS ded_applied,
  round(cp."WriteOff"::numeric, 2)         AS write_off,
  -- What is left for the patient once insurance paid and the write-off is taken.
  round((cp."FeeBilled" - cp."InsPayAmt" - cp."WriteOff")::numeric, 2) AS patient_portion,
  cp."ProcDate"                            AS proc_date,
  cp."DateCP"                              AS date_cp,
  cp."SecDateEntry"                        AS sec_date_entry,
  cp."SecDateTEdit"                        AS sec_date_t_edit
FROM raw."claimproc" AS cp
