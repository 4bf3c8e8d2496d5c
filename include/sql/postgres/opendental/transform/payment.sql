-- public.payment: one row per patient payment; refunds flagged, processing status decoded, net amount.
SELECT
  py."PayNum"                              AS pay_num,
  py."PatNum"                              AS pat_num,
  py."ClinicNum"                           AS clinic_num,
  py."PayType"                             AS pay_type,
  py."PayDate"                             AS pay_date,
  round(py."PayAmt"::numeric, 2)           AS pay_amt,
  py."PayAmt" < 0                          AS is_refund,
  round(py."MerchantFee"::numeric, 2)      AS merchant_fee,
  round((py."PayAmt" - py."MerchantFee")::numeric, 2) AS net_amount,
  btrim(py."CheckNum")                     AS check_num,
  py."IsSplit" <> 0                        AS is_split,
  py."ProcessStatus"                       AS process_status,
  CASE py."ProcessStatus" WHEN 0 THEN 'OfficeProcessed' WHEN 1 THEN 'OnlinePending'
    WHEN 2 THEN 'OnlineProcessed' ELSE 'Unknown' END AS process_status_label,
  py."DateEntry"                           AS date_entry,
  py."SecDateTEdit"                        AS sec_date_t_edit
FROM raw."payment" AS py
