-- Add about 2.5 fictional people to every case of a scale database made by
-- bench/deadlines-at-scale.sql, with a realistic spread of surnames (the commonest, Smith, on
-- about 2% of people), to measure name search (issue 10). Every name here is made up.
--   psql postgres://postgres@127.0.0.1:5432/haven_scale -f bench/people-at-scale.sql
\set ON_ERROR_STOP on
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM case_people) THEN RAISE EXCEPTION 'this database already has people: use a fresh scale database'; END IF;
  IF NOT EXISTS (SELECT 1 FROM cases WHERE reference LIKE 'SCL-%') THEN RAISE EXCEPTION 'run bench/deadlines-at-scale.sql first'; END IF;
END $$;

-- Surnames with skewed weights: the first takes about 2% of people, the tail is long.
CREATE TEMP TABLE surnames AS
SELECT s, row_number() OVER () AS n FROM unnest(ARRAY[
  'smith','jones','taylor','brown','williams','wilson','johnson','davies','patel','robinson',
  'wright','thompson','evans','walker','white','roberts','green','hall','thomas','clarke',
  'jackson','wood','harris','edwards','turner','martin','cooper','hill','ward','hughes',
  'moore','clark','king','harrison','lewis','baker','lee','allen','morris','khan',
  'scott','watson','davis','parker','james','bennett','young','phillips','richardson','mitchell',
  'bailey','carter','cook','singh','shaw','bell','collins','morgan','kelly','begum',
  'miller','cox','hussain','marshall','simpson','price','anderson','adams','wilkinson','ali',
  'ahmed','foster','ellis','murphy','chapman','mason','gray','richards','webb','griffiths',
  'hunt','palmer','campbell','holmes','mills','rogers','barnes','knight','matthews','barker',
  'powell','stevens','kaur','fisher','butler','dixon','russell','harvey','pearson','graham']) s;
CREATE TEMP TABLE firsts AS
SELECT f, row_number() OVER () AS n FROM unnest(ARRAY[
  'olivia','amelia','isla','ava','ivy','freya','lily','florence','mia','willow','rosie','sophia',
  'isabella','grace','daisy','sienna','poppy','elsie','emily','ella','evie','oliver','noah',
  'george','arthur','muhammad','leo','harry','oscar','archie','henry','theodore','freddie',
  'jack','charlie','theo','alfie','jacob','thomas','finley','arlo','lucas','tommy','isaac']) f;

-- Three slots a case; the third is filled for half the cases (2.5 people on average). One person
-- in 50 is a Smith, the rest share the other 99 surnames evenly (about 1% each), and one in 40
-- gets a rare made-up surname.
INSERT INTO case_people (id, case_id, kind, full_name, date_of_birth, age_estimate, relationship)
SELECT gen_random_uuid(), c.id,
       CASE WHEN k.slot = 3 THEN 'adult' ELSE 'child' END,
       initcap(f.f) || ' ' || CASE
         WHEN abs(hashtext(c.id::text || k.slot || 'r')) % 40 = 0
           THEN initcap('qu' || substr(md5(c.id::text || k.slot), 1, 6))
         ELSE initcap(s.s) END,
       CASE WHEN k.slot < 3 AND abs(hashtext(c.id::text || k.slot)) % 3 > 0
            THEN date '2009-01-01' + abs(hashtext(c.id::text || k.slot || 'd')) % 5800 END,
       NULL,
       CASE WHEN k.slot = 3 THEN 'alleged' END
FROM cases c
CROSS JOIN (VALUES (1), (2), (3)) AS k(slot)
JOIN surnames s ON s.n = CASE WHEN abs(hashtext(c.id::text || k.slot || 's')) % 50 = 0 THEN 1
                              ELSE 2 + abs(hashtext(c.id::text || k.slot || 't')) % 99 END
JOIN firsts f ON f.n = 1 + abs(hashtext(c.id::text || k.slot || 'f')) % 44
WHERE k.slot < 3 OR abs(hashtext(c.id::text)) % 2 = 0;

ANALYZE case_people;
SELECT count(*) AS people,
       round(100.0 * count(*) FILTER (WHERE full_name ILIKE '% smith') / count(*), 2) AS smith_percent
FROM case_people;
