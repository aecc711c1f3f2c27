-- The visit reconciliation of visits.parquet, written in SQL as an analyst would (DuckDB).
--
-- Reads the run's canonical tables and three reference tables, set up by bench/compare.py as views:
--   claim_lines(patient_id, date_of_service, rendering_npi, clinic_id, payer_type, payer_id, cpt_code,
--               units, file_row_number)
--   visit_notes(note_id, patient_id, date_of_service, rendering_npi, supervising_npi, clinic_id,
--               itemizes_minutes, total_timed_minutes, file_row_number)
-- (file_row_number: the row's place in the run's table, the order the audit read the rows in)
--   note_services(note_id, cpt_code, minutes)            one row per note and code
--   cpt_codes(cpt_code, timed), payer_rule_basis(payer_type, rule_basis),
--   payers(payer_id, rule_basis)                                          data/reference/*.csv
-- and returns one row per visit with a 97112 line or 97112 minutes: the columns of visits.parquet.
--
-- The rules (docs/rules.md, "How units are reconciled"): a visit is (patient, date, rendering NPI)
-- and pools every claim line and note of that key. The unit table gives 0 below 8 minutes, else
-- (M + 7) // 15. CMS (Medicare Claims Processing Manual ch. 5 §20.2) pools the day's timed
-- minutes; 97112 gets its full 15-minute units plus one of the units left over when fewer other
-- codes than units left have strictly more remaining minutes (ties in its favour). AMA counts
-- each code alone. A note that gives only a total: 97112 gets what the total leaves after the
-- other timed codes billed. A payer listed in payers.csv (by the visit's first line's payer_id)
-- counts units its own way; any other payer its payer type's way (payer_rule_basis.csv).
--
-- Issue 17: a note naming a supervising therapist (a PTA's or OTA's) documents the visit billed
-- under that therapist's NPI when no claim line was billed under the note's own NPI that day and
-- a line or another note exists under the supervising NPI (same patient and date); several notes
-- of a visit pool per code. Only the visit key of `notes` below says so (VISIT KEY OF A NOTE).

CREATE OR REPLACE MACRO units_for(m) AS CASE WHEN m >= 8 THEN (m + 7) // 15 ELSE 0 END;

WITH
timed AS (SELECT cpt_code FROM cpt_codes WHERE timed),

lines AS (
    SELECT patient_id, date_of_service, rendering_npi, clinic_id, payer_type, payer_id, cpt_code, units,
           cpt_code IN (SELECT cpt_code FROM timed) AS is_timed,
           file_row_number AS line_order
    FROM claim_lines
),

line_keys AS (SELECT DISTINCT patient_id, date_of_service, rendering_npi FROM claim_lines),
own_note_keys AS (SELECT DISTINCT patient_id, date_of_service, rendering_npi FROM visit_notes),

notes AS (
    SELECT n.note_id,
           n.patient_id, n.date_of_service,                     -- VISIT KEY OF A NOTE
           CASE WHEN n.supervising_npi IS NOT NULL AND n.supervising_npi <> n.rendering_npi
                     AND own.rendering_npi IS NULL
                     AND (sup_line.rendering_npi IS NOT NULL OR sup_note.rendering_npi IS NOT NULL)
                THEN n.supervising_npi ELSE n.rendering_npi END AS rendering_npi,
           n.clinic_id, coalesce(n.itemizes_minutes, false) AS itemizes, n.total_timed_minutes,
           n.file_row_number AS note_order
    FROM visit_notes n
    LEFT JOIN line_keys own ON own.patient_id = n.patient_id AND own.date_of_service = n.date_of_service
                           AND own.rendering_npi = n.rendering_npi
    LEFT JOIN line_keys sup_line ON sup_line.patient_id = n.patient_id AND sup_line.date_of_service = n.date_of_service
                                AND sup_line.rendering_npi = n.supervising_npi
    LEFT JOIN own_note_keys sup_note ON sup_note.patient_id = n.patient_id
                                    AND sup_note.date_of_service = n.date_of_service
                                    AND sup_note.rendering_npi = n.supervising_npi
),

-- timed minutes documented, with the visit of the note that documents them
services AS (
    SELECT n.note_id, n.patient_id, n.date_of_service, n.rendering_npi, s.cpt_code, s.minutes
    FROM note_services s JOIN notes n USING (note_id)
    WHERE s.cpt_code IN (SELECT cpt_code FROM timed)
),

-- billed: units per visit, and per timed code of the visit
billed_codes AS (
    SELECT patient_id, date_of_service, rendering_npi, cpt_code, sum(units) AS units
    FROM lines WHERE is_timed
    GROUP BY ALL
),
billed_other AS (
    SELECT patient_id, date_of_service, rendering_npi,
           count(*) FILTER (WHERE units > 0) AS timed_codes_billed,
           -- the fewest minutes the other codes' units need under AMA: 8, 23, 38 …
           sum(greatest(units * 15 - 7, 0)) FILTER (WHERE cpt_code <> '97112') AS other_fewest_minutes
    FROM billed_codes
    GROUP BY ALL
),
billed AS (
    SELECT patient_id, date_of_service, rendering_npi,
           sum(units) FILTER (WHERE cpt_code = '97112') AS billed_units_97112,
           sum(units) FILTER (WHERE is_timed) AS billed_timed_units,
           count(*) FILTER (WHERE cpt_code = '97112') AS lines_97112,
           sum(units) FILTER (WHERE is_timed AND cpt_code <> '97112') AS other_timed_units,
           arg_min(clinic_id, line_order) AS clinic_id,              -- the visit's first line
           arg_min(payer_type, line_order) AS payer_type,
           arg_min(payer_id, line_order) AS payer_id
    FROM lines
    GROUP BY ALL
),

-- documented: each note's timed minutes, then per visit
note_minutes AS (
    SELECT n.*,
           coalesce(m.itemized, 0) AS itemized,
           coalesce(m.itemized_97112, 0) AS itemized_97112,
           coalesce(n.total_timed_minutes, m.itemized, 0) AS total,
           n.total_timed_minutes IS NOT NULL OR n.itemizes AS total_known
    FROM notes n LEFT JOIN (
        SELECT note_id, sum(minutes) AS itemized,
               sum(minutes) FILTER (WHERE cpt_code = '97112') AS itemized_97112
        FROM services GROUP BY note_id
    ) m USING (note_id)
),
documented AS (
    SELECT patient_id, date_of_service, rendering_npi,
           min(note_id) AS note_id,
           count(*) AS note_count,
           arg_min(clinic_id, note_order) AS note_clinic_id,
           bool_and(itemizes) AS itemizes_minutes,
           sum(total) FILTER (WHERE total_known) AS total_timed_minutes,
           sum(itemized_97112) FILTER (WHERE itemizes) AS minutes_97112,
           sum(CASE WHEN itemizes THEN itemized WHEN total_known THEN total ELSE 0 END) AS pooled_timed_minutes
    FROM note_minutes
    GROUP BY ALL
),

-- the itemized minutes per visit and timed code (all the visit's notes together)
code_minutes AS (
    SELECT patient_id, date_of_service, rendering_npi, cpt_code, sum(minutes) AS minutes
    FROM services
    GROUP BY ALL
),
by_code AS (
    SELECT patient_id, date_of_service, rendering_npi,
           units_for(sum(minutes)) - sum(minutes // 15) AS units_left,
           coalesce(sum(minutes) FILTER (WHERE cpt_code = '97112'), 0) AS own,
           sum(units_for(minutes)) AS ama_timed
    FROM code_minutes
    GROUP BY ALL
),
-- CMS: the most units 97112 can carry in a valid allotment (ties its way)
cms AS (
    SELECT b.patient_id, b.date_of_service, b.rendering_npi, b.ama_timed,
           b.own // 15 + CASE WHEN b.own % 15 > 0 AND count(c.cpt_code) FILTER (
                   WHERE c.cpt_code <> '97112' AND c.minutes % 15 > b.own % 15) < b.units_left
               THEN 1 ELSE 0 END AS cms_97112
    FROM by_code b JOIN code_minutes c USING (patient_id, date_of_service, rendering_npi)
    GROUP BY b.patient_id, b.date_of_service, b.rendering_npi, b.ama_timed, b.own, b.units_left
),

visits AS (
    SELECT *
    FROM billed FULL JOIN documented USING (patient_id, date_of_service, rendering_npi)
    WHERE coalesce(lines_97112, 0) > 0 OR coalesce(minutes_97112, 0) > 0
),

-- a visit no line bills takes the payer of the patient's claim line nearest in date (the earlier on a tie)
nearest_payer AS (
    SELECT v.patient_id, v.date_of_service, v.rendering_npi, l.payer_type, l.payer_id
    FROM visits v JOIN lines l USING (patient_id)
    WHERE v.payer_type IS NULL
    QUALIFY row_number() OVER (
        PARTITION BY v.patient_id, v.date_of_service, v.rendering_npi
        ORDER BY abs(date_diff('day', v.date_of_service, l.date_of_service)), l.date_of_service,
                 l.line_order DESC) = 1
),

with_basis AS (
    SELECT v.patient_id, v.date_of_service, v.rendering_npi,
           coalesce(v.clinic_id, v.note_clinic_id) AS clinic_id,
           coalesce(v.payer_type, p.payer_type, 'unknown') AS payer_type,
           coalesce(pi.rule_basis, r.rule_basis) = 'cms' AS cms_rule,
           coalesce(pi.rule_basis, r.rule_basis) AS rule_basis,
           v.note_id, v.total_timed_minutes, v.minutes_97112,
           coalesce(v.billed_units_97112, 0) AS billed_units_97112,
           coalesce(v.billed_timed_units, 0) AS billed_timed_units,
           coalesce(v.note_count, 0) AS note_count,
           coalesce(v.itemizes_minutes, false) AS itemizes_minutes,
           coalesce(v.pooled_timed_minutes, 0) AS pooled_timed_minutes,
           coalesce(v.lines_97112, 0) AS lines_97112,
           coalesce(o.timed_codes_billed, 0) AS timed_codes_billed,
           coalesce(v.other_timed_units, 0) AS other_timed_units,
           coalesce(o.other_fewest_minutes, 0) AS other_fewest_minutes,
           coalesce(c.cms_97112, 0) AS cms_97112,
           coalesce(c.ama_timed, 0) AS ama_timed
    FROM visits v
    LEFT JOIN nearest_payer p USING (patient_id, date_of_service, rendering_npi)
    LEFT JOIN billed_other o USING (patient_id, date_of_service, rendering_npi)
    LEFT JOIN cms c USING (patient_id, date_of_service, rendering_npi)
    LEFT JOIN payer_rule_basis r ON r.payer_type = coalesce(v.payer_type, p.payer_type, 'unknown')
    LEFT JOIN payers pi ON pi.payer_id = coalesce(v.payer_id, p.payer_id)   -- a listed payer's own terms first
),

supported AS (
    SELECT *,
           CASE WHEN cms_rule AND itemizes_minutes THEN cms_97112
                WHEN itemizes_minutes THEN units_for(coalesce(minutes_97112, 0))
                WHEN cms_rule THEN greatest(units_for(pooled_timed_minutes) - other_timed_units, 0)
                ELSE units_for(greatest(pooled_timed_minutes - other_fewest_minutes, 0))
           END AS supported_units_97112,
           CASE WHEN cms_rule THEN units_for(pooled_timed_minutes)
                WHEN itemizes_minutes THEN ama_timed
                -- the best split of a total over the timed codes billed: j = min(codes, M // 8)
                ELSE (pooled_timed_minutes + 7 * least(greatest(timed_codes_billed, 1), pooled_timed_minutes // 8)) // 15
           END AS supported_timed_units
    FROM with_basis
)

SELECT patient_id, date_of_service, rendering_npi, clinic_id, payer_type, rule_basis, note_id,
       total_timed_minutes::BIGINT AS total_timed_minutes, minutes_97112::BIGINT AS minutes_97112,
       billed_units_97112::BIGINT AS billed_units_97112, supported_units_97112::BIGINT AS supported_units_97112,
       greatest(billed_units_97112 - supported_units_97112, 0)::BIGINT AS excess_units_97112,
       billed_timed_units::BIGINT AS billed_timed_units, supported_timed_units::BIGINT AS supported_timed_units,
       note_count::BIGINT AS note_count, itemizes_minutes, pooled_timed_minutes::BIGINT AS pooled_timed_minutes,
       lines_97112::BIGINT AS lines_97112, timed_codes_billed::BIGINT AS timed_codes_billed
FROM supported
ORDER BY clinic_id, date_of_service, patient_id, rendering_npi;
