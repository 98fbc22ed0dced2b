-- The benchmark data set: fills a migrated and seeded PostgreSQL database, set-based.
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q \
--        -v users=10000 -v projects=1000 -v conversations=100000 -v messages=1000000 \
--        -v member=test@chatai.com -f bench/dataset.sql
--
-- What it writes (U users, P projects, C conversations, M messages from the variables):
--   users            U rows `Bench User <i>` / `bench.user<i>@bench.chatai.test`, role user.
--   projects         P rows; project i is owned by generated user ((i-1) * max(U/P, 1)) % U + 1.
--                    Project 1 is named `bench: project`, the others `bench project <i>`.
--   project_members  the owner of each project (owner), two more generated users (editor,
--                    viewer), and :member as editor in exactly 50 projects (1, 1+s, 1+2s, …
--                    with s = P / 50), project 1 among them: 3 P + 50 rows.
--   conversations    C rows, conversation i in project ((i-1) % P) + 1, thread `bench-thread-<i>`.
--                    Conversation 1 is `bench: deep conversation`, conversation P+1
--                    `bench: conversation`; both are in `bench: project`.
--   messages         M rows: 91 % (M * 91 / 100) in the deep conversation and 10 in
--                    `bench: conversation`, all by :member; the rest round-robin over the other
--                    C - 2 conversations, each written by its project's owner.
-- Every id is a UUIDv7 (the application's kind) built from the row's created_at and a sequence
-- number, so two runs write the same rows; created_at is distinct and increasing within each
-- conversation (one millisecond apart); updated_at = created_at.
--
-- Needs P >= 50, C >= P + 2, U >= 3, M >= 101, and :member's user (the seed writes it); the rows
-- are fixed, so it runs once per database (a second run stops at the unique emails).
--
-- One transaction: on any error nothing is written. The keys, indexes and foreign keys of
-- `conversations` and `messages` are dropped inside it and recreated (from their own catalogue
-- definitions) once the rows are in, so the schema ends exactly as it began. Then
-- VACUUM ANALYZE, so that plans see the real sizes and index-only scans an all-visible heap.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET synchronous_commit = off;
SET work_mem = '256MB';
SET maintenance_work_mem = '512MB';

BEGIN;

-- Inputs -----------------------------------------------------------------------------------------
SELECT :users::bigint AS u,
       :projects::bigint AS p,
       :conversations::bigint AS c,
       :messages::bigint AS m,
       :messages::bigint * 91 / 100 AS deep,
       10 AS small,
       :messages::bigint - :messages::bigint * 91 / 100 - 10 AS rest,
       greatest(:projects::bigint / 50, 1) AS step,
       greatest(:users::bigint / 3, 1) AS spread,
       greatest(:users::bigint / :projects::bigint, 1) AS stride,
       set_config('bench.member', lower(btrim(:'member')), true) AS member_email,
       set_config('bench.sizes', concat_ws(',', :users, :projects, :conversations, :messages), true) AS sizes
\gset bench_

DO $$
DECLARE
    sizes bigint[] := string_to_array(current_setting('bench.sizes'), ',')::bigint[];
    u bigint := sizes[1];
    p bigint := sizes[2];
    c bigint := sizes[3];
    m bigint := sizes[4];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM users WHERE email = current_setting('bench.member')) THEN
        RAISE EXCEPTION 'dataset: no user with email % (run the seed first)', current_setting('bench.member');
    END IF;
    IF u < 3 THEN RAISE EXCEPTION 'dataset: users must be at least 3 (got %)', u; END IF;
    IF p < 50 THEN RAISE EXCEPTION 'dataset: projects must be at least 50 (got %)', p; END IF;
    IF c < p + 2 THEN RAISE EXCEPTION 'dataset: conversations must be at least projects + 2 (got %)', c; END IF;
    IF m - m * 91 / 100 < 10 THEN RAISE EXCEPTION 'dataset: messages too few (got %)', m; END IF;
END
$$;

SELECT id AS bench_member_id FROM users WHERE email = :'bench_member_email' \gset

-- A UUIDv7 from a millisecond timestamp, a table tag (rand_a) and a sequence number (rand_b).
CREATE FUNCTION pg_temp.v7(ms bigint, tag int, seq bigint) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (lpad(to_hex(ms << 16 | 28672 | tag), 16, '0')
            || to_hex((-9223372036854775808)::bigint | seq))::uuid
$$;

-- Times: users from T0, projects a day later, conversations two days later, messages three.
\set t0 '''2026-01-01 00:00:00+00''::timestamptz'
\set t0_ms 1767225600000
\set day_ms 86400000

-- Users ------------------------------------------------------------------------------------------
INSERT INTO users (id, name, email, password, auth_provider, role, is_active, created_at, updated_at)
SELECT pg_temp.v7(:t0_ms + i, 1, i),
       'Bench User ' || i,
       'bench.user' || i || '@bench.chatai.test',
       NULL, 'email', 'user', true,
       :t0 + i * interval '1 ms',
       :t0 + i * interval '1 ms'
FROM generate_series(1, :bench_u) AS i;

-- Projects ---------------------------------------------------------------------------------------
INSERT INTO projects (id, name, description, owner_id, is_deleted, created_at, updated_at)
SELECT pg_temp.v7(:t0_ms + :day_ms + i, 2, i),
       CASE WHEN i = 1 THEN 'bench: project' ELSE 'bench project ' || i END,
       'benchmark project ' || i,
       pg_temp.v7(:t0_ms + o, 1, o),
       false,
       :t0 + interval '1 day' + i * interval '1 ms',
       :t0 + interval '1 day' + i * interval '1 ms'
FROM generate_series(1, :bench_p) AS i,
     LATERAL (SELECT (i - 1) * :bench_stride % :bench_u + 1 AS o) AS owner;

-- Members: the owner, two more generated users, and :member in 50 projects.
INSERT INTO project_members (id, project_id, user_id, role, created_at)
SELECT pg_temp.v7(:t0_ms + :day_ms + i, 3, i * 4 + k),
       pg_temp.v7(:t0_ms + :day_ms + i, 2, i),
       CASE WHEN k = 3 THEN :'bench_member_id'::uuid
            ELSE pg_temp.v7(:t0_ms + mu, 1, mu) END,
       (CASE k WHEN 0 THEN 'owner' WHEN 2 THEN 'viewer' ELSE 'editor' END)::project_members_role_enum,
       :t0 + interval '1 day' + i * interval '1 ms' + k * interval '1 us'
FROM generate_series(1, :bench_p) AS i,
     generate_series(0, 3) AS k,
     LATERAL (SELECT ((i - 1) * :bench_stride % :bench_u + k * :bench_spread) % :bench_u + 1 AS mu) AS member
WHERE k < 3 OR ((i - 1) % :bench_step = 0 AND (i - 1) / :bench_step < 50);

-- Load without per-row constraint work -----------------------------------------------------------
-- The keys, indexes and foreign keys of `conversations` and `messages` (and any foreign key that
-- references them) go for the load and come back from their own catalogue definitions before
-- COMMIT: one sorted build per index and one validating join per foreign key, instead of an
-- index insertion and a lookup per row (about 5 s instead of 23 s at the default size). Dropped
-- foreign keys first, then keys, then the other indexes; restored the other way round.
CREATE TEMP TABLE bench_ddl ON COMMIT DROP AS
SELECT CASE c.contype WHEN 'f' THEN 1 ELSE 2 END AS drop_order,
       format('ALTER TABLE %s DROP CONSTRAINT %I', c.conrelid::regclass, c.conname) AS drop_sql,
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', c.conrelid::regclass, c.conname,
              pg_get_constraintdef(c.oid)) AS restore_sql
FROM pg_constraint c
WHERE (c.conrelid IN ('conversations'::regclass, 'messages'::regclass) AND c.contype IN ('f', 'p', 'u'))
   OR (c.confrelid IN ('conversations'::regclass, 'messages'::regclass) AND c.contype = 'f')
UNION ALL
SELECT 3,
       format('DROP INDEX %s', i.indexrelid::regclass),
       pg_get_indexdef(i.indexrelid)
FROM pg_index i
WHERE i.indrelid IN ('conversations'::regclass, 'messages'::regclass)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid);
SELECT drop_sql FROM bench_ddl ORDER BY drop_order \gexec

-- Conversations ----------------------------------------------------------------------------------
INSERT INTO conversations (id, project_id, title, thread_id, metadata, is_deleted, created_at, updated_at)
SELECT pg_temp.v7(:t0_ms + 2 * :day_ms + i, 4, i),
       pg_temp.v7(:t0_ms + :day_ms + pr, 2, pr),
       CASE i WHEN 1 THEN 'bench: deep conversation'
              WHEN :bench_p + 1 THEN 'bench: conversation'
              ELSE 'bench conversation ' || i END,
       'bench-thread-' || i,
       NULL, false,
       :t0 + interval '2 days' + i * interval '1 ms',
       :t0 + interval '2 days' + i * interval '1 ms'
FROM generate_series(1, :bench_c) AS i, LATERAL (SELECT (i - 1) % :bench_p + 1 AS pr) AS project;

-- Messages ---------------------------------------------------------------------------------------
-- The deep conversation, then `bench: conversation`, then the rest round-robin over the other
-- conversations (2 … C, skipping P + 1).
INSERT INTO messages (id, conversation_id, user_id, agent_id, user_message, created_at)
SELECT pg_temp.v7(:t0_ms + 3 * :day_ms + n, 5, n),
       pg_temp.v7(:t0_ms + 2 * :day_ms + 1, 4, 1),
       :'bench_member_id'::uuid,
       NULL,
       'bench message ' || n,
       :t0 + interval '3 days' + n * interval '1 ms'
FROM generate_series(1, :bench_deep) AS n;

INSERT INTO messages (id, conversation_id, user_id, agent_id, user_message, created_at)
SELECT pg_temp.v7(:t0_ms + 3 * :day_ms + n, 5, :bench_deep + n),
       pg_temp.v7(:t0_ms + 2 * :day_ms + :bench_p + 1, 4, :bench_p + 1),
       :'bench_member_id'::uuid,
       NULL,
       'bench message ' || n,
       :t0 + interval '3 days' + n * interval '1 ms'
FROM generate_series(1, :bench_small) AS n;

INSERT INTO messages (id, conversation_id, user_id, agent_id, user_message, created_at)
SELECT pg_temp.v7(:t0_ms + 3 * :day_ms + j, 5, :bench_deep + :bench_small + j),
       pg_temp.v7(:t0_ms + 2 * :day_ms + cv, 4, cv),
       pg_temp.v7(:t0_ms + ow, 1, ow),
       NULL,
       'bench message ' || j,
       :t0 + interval '3 days' + j * interval '1 ms'
FROM generate_series(1, :bench_rest) AS j,
     LATERAL (SELECT (j - 1) % (:bench_c - 2) + 2 AS k) AS slot,
     LATERAL (SELECT CASE WHEN k >= :bench_p + 1 THEN k + 1 ELSE k END AS cv) AS conversation,
     LATERAL (SELECT ((cv - 1) % :bench_p) * :bench_stride % :bench_u + 1 AS ow) AS owner;

-- Back: the plain indexes, the keys, then the foreign keys (each validated by one join).
SELECT restore_sql FROM bench_ddl ORDER BY drop_order DESC \gexec

COMMIT;

VACUUM ANALYZE users, projects, project_members, conversations, messages;
