-- public.patient: one row per patient; status, gender and position decoded; age derived as of today.
-- SSN and free-text notes stay in raw: analytics has no use for them.
-- rebuild: full
-- (the age changes every day, so every row is recomputed each night rather than only the changed ones)
SELECT
  p."PatNum"                               AS pat_num,
  p."Guarantor"                            AS guarantor,
  btrim(p."LName")                         AS l_name,
  btrim(p."FName")                         AS f_name,
  btrim(p."MiddleI")                       AS middle_i,
  btrim(p."Preferred")                     AS preferred,
  p."PatStatus"                            AS pat_status,
  CASE p."PatStatus"
    WHEN 0 THEN 'Patient' WHEN 1 THEN 'NonPatient' WHEN 2 THEN 'Inactive' WHEN 3 THEN 'Archived'
    WHEN 4 THEN 'Deleted' WHEN 5 THEN 'Deceased' WHEN 6 THEN 'Prospective' ELSE 'Unknown'
  END                                      AS pat_status_label,
  p."Gender"                               AS gender,
  CASE p."Gender" WHEN 0 THEN 'Male' WHEN 1 THEN 'Female' WHEN 2 THEN 'Unknown' WHEN 3 THEN 'Other'
    ELSE 'Unknown' END                     AS gender_label,
  p."Position"                             AS position,
  CASE p."Position" WHEN 0 THEN 'Single' WHEN 1 THEN 'Married' WHEN 2 THEN 'Child' WHEN 3 THEN 'Widowed'
    WHEN 4 THEN 'Divorced' ELSE 'Unknown' END AS position_label,
  p."Birthdate"                            AS birthdate,
  CASE WHEN p."Birthdate" IS NULL OR p."Birthdate" > current_date THEN NULL
       ELSE date_part('year', age(current_date, p."Birthdate"))::integer END AS age_years,
  btrim(p."City")                          AS city,
  btrim(p."State")                         AS state,
  btrim(p."Zip")                           AS zip,
  btrim(p."Email")                         AS email,
  p."PriProv"                              AS pri_prov,
  p."SecProv"                              AS sec_prov,
  p."ClinicNum"                            AS clinic_num,
  p."BillingType"                          AS billing_type,
  p."FeeSched"                             AS fee_sched,
  round(p."EstBalance"::numeric, 2)        AS est_balance,
  round(p."Bal_0_30"::numeric, 2)          AS bal_0_30,
  round(p."Bal_31_60"::numeric, 2)         AS bal_31_60,
  round(p."Bal_61_90"::numeric, 2)         AS bal_61_90,
  round(p."BalOver90"::numeric, 2)         AS bal_over_90,
  round(p."BalTotal"::numeric, 2)          AS bal_total,
  round(p."InsEst"::numeric, 2)            AS ins_est,
  round((p."BalTotal" - p."InsEst")::numeric, 2) AS patient_portion,
  p."DateFirstVisit"                       AS date_first_visit,
  p."SecDateEntry"                         AS sec_date_entry,
  p."DateTStamp"                           AS date_t_stamp
FROM raw."patient" AS p
