//! Every table of the database, as the migrations that made it: the one place the schema is
//! written down. `PRAGMA user_version` is the number of entries applied so far.

/// Schema migrations, applied in order, each in its own transaction. Never edit a released entry;
/// append a new one.
pub const MIGRATIONS: &[&str] = &[
    REPORT,         // v1: provisioning reports (`report`, `report_chain`)
    JOURNAL,        // v2: the action-queue journal (`batch`, `op`)
    REPORT_COUNTS,  // v3: per-day report counts (backfilled; kept by triggers)
    SYNC,           // v4: `scimitar sync`'s state per policy (quarantine, run in progress) and its runs
    KEPT,           // v5: what each deactivation took away (groups, roles), kept before it was sent
    REPORT_COMPACT, // v6: the report in about half the space (names once in `report_names`, hashes as bytes)
    TEAM,           // v7: the per-org lease, each batch's owner (org, lease generation), who proposed and approved
    APPROVALS,      // v8: four-eyes approvals (`approval`)
];

/// Schema of the report tables (migration 1).
const REPORT: &str = "
CREATE TABLE report (
    seq              INTEGER PRIMARY KEY,
    op_id            TEXT NOT NULL,
    batch_id         TEXT,
    policy_run       TEXT,
    started_ms       INTEGER NOT NULL,
    finished_ms      INTEGER NOT NULL,
    profile          TEXT NOT NULL,
    host             TEXT NOT NULL,
    action           TEXT NOT NULL,
    target_id        TEXT,
    target_email     TEXT,
    target_user_name TEXT,
    target_display   TEXT,
    outcome          TEXT NOT NULL,
    error_code       TEXT,
    error_message    TEXT,
    http_status      INTEGER,
    retries          INTEGER NOT NULL,
    duration_ms      INTEGER NOT NULL,
    os_user          TEXT NOT NULL,
    os_host          TEXT NOT NULL,
    detail           TEXT,
    email_key        TEXT,
    user_name_key    TEXT,
    prev_hash        TEXT NOT NULL,
    hash             TEXT NOT NULL
);
-- time span queries, summaries and per-day counts are answered from this index alone
CREATE INDEX report_finished ON report (finished_ms, action, outcome);
CREATE INDEX report_target_id ON report (target_id) WHERE target_id IS NOT NULL;
CREATE INDEX report_email ON report (email_key) WHERE email_key IS NOT NULL;
CREATE INDEX report_user_name ON report (user_name_key) WHERE user_name_key IS NOT NULL;
CREATE INDEX report_batch ON report (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX report_policy_run ON report (policy_run) WHERE policy_run IS NOT NULL;
CREATE INDEX report_op ON report (op_id);
CREATE TABLE report_chain (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    head_seq    INTEGER NOT NULL,
    head_hash   TEXT NOT NULL,
    anchor_seq  INTEGER NOT NULL,
    anchor_hash TEXT NOT NULL,
    pruned_at_ms INTEGER
);
INSERT INTO report_chain (id, head_seq, head_hash, anchor_seq, anchor_hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000',
               0, '0000000000000000000000000000000000000000000000000000000000000000');
";

/// Schema of the journal tables (migration 2).
const JOURNAL: &str = "
CREATE TABLE batch (
    batch_id    TEXT PRIMARY KEY,
    created_ms  INTEGER NOT NULL,
    origin      TEXT NOT NULL,
    policy_run  TEXT,
    description TEXT NOT NULL,
    profile     TEXT NOT NULL,
    host        TEXT NOT NULL,
    state       TEXT NOT NULL
);
CREATE TABLE op (
    op_id         TEXT PRIMARY KEY,
    batch_id      TEXT NOT NULL REFERENCES batch(batch_id),
    seq           INTEGER NOT NULL,
    phase         INTEGER NOT NULL,
    action        TEXT NOT NULL,
    object_key    TEXT NOT NULL,
    state         TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    started_ms    INTEGER,
    finished_ms   INTEGER,
    error_code    TEXT,
    error_message TEXT,
    http_status   INTEGER,
    retries       INTEGER NOT NULL DEFAULT 0,
    note          TEXT
);
CREATE INDEX op_batch ON op (batch_id, phase, seq);
CREATE INDEX op_open ON op (state) WHERE state IN ('pending', 'running');
";

/// Per-day counts of the report (migration 3): one row per UTC day
/// of the finish time, profile, action and outcome, so that counts, summaries and per-day counts
/// over long spans add up a few thousand rows instead of scanning a million records. Kept by
/// triggers in the same transaction as every insert, delete (pruning) or update of `report`, so it
/// always agrees with the table; backfilled from the existing records. Not part of the hash chain.
const REPORT_COUNTS: &str = "
CREATE TABLE report_counts (
    day     INTEGER NOT NULL, -- UTC days since the unix epoch of finished_ms (rounded down)
    profile TEXT NOT NULL,
    action  TEXT NOT NULL,
    outcome TEXT NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (day, profile, action, outcome)
) WITHOUT ROWID;
INSERT INTO report_counts (day, profile, action, outcome, n)
    SELECT finished_ms / 86400000 - (finished_ms % 86400000 < 0), profile, action, outcome, count(*)
    FROM report GROUP BY 1, 2, 3, 4;
CREATE TRIGGER report_counts_insert AFTER INSERT ON report BEGIN
    INSERT INTO report_counts (day, profile, action, outcome, n)
        VALUES (NEW.finished_ms / 86400000 - (NEW.finished_ms % 86400000 < 0), NEW.profile, NEW.action, NEW.outcome, 1)
        ON CONFLICT (day, profile, action, outcome) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER report_counts_delete AFTER DELETE ON report BEGIN
    UPDATE report_counts SET n = n - 1
        WHERE day = OLD.finished_ms / 86400000 - (OLD.finished_ms % 86400000 < 0)
          AND profile = OLD.profile AND action = OLD.action AND outcome = OLD.outcome;
    DELETE FROM report_counts
        WHERE day = OLD.finished_ms / 86400000 - (OLD.finished_ms % 86400000 < 0)
          AND profile = OLD.profile AND action = OLD.action AND outcome = OLD.outcome AND n <= 0;
END;
CREATE TRIGGER report_counts_update AFTER UPDATE OF finished_ms, profile, action, outcome ON report BEGIN
    UPDATE report_counts SET n = n - 1
        WHERE day = OLD.finished_ms / 86400000 - (OLD.finished_ms % 86400000 < 0)
          AND profile = OLD.profile AND action = OLD.action AND outcome = OLD.outcome;
    DELETE FROM report_counts
        WHERE day = OLD.finished_ms / 86400000 - (OLD.finished_ms % 86400000 < 0)
          AND profile = OLD.profile AND action = OLD.action AND outcome = OLD.outcome AND n <= 0;
    INSERT INTO report_counts (day, profile, action, outcome, n)
        VALUES (NEW.finished_ms / 86400000 - (NEW.finished_ms % 86400000 < 0), NEW.profile, NEW.action, NEW.outcome, 1)
        ON CONFLICT (day, profile, action, outcome) DO UPDATE SET n = n + 1;
END;
";

/// `scimitar sync` (migration 4): one row of state per (profile, policy): whether it is
/// quarantined and why (with the held plan's counts as JSON), the policy run of a cycle in
/// progress (so that the next start finishes it), when it runs next and when it last succeeded;
/// and one row per cycle in `sync_run` (what `sync status` and the metrics read).
const SYNC: &str = "
CREATE TABLE sync_state (
    profile            TEXT NOT NULL,
    policy             TEXT NOT NULL,
    quarantined_ms     INTEGER,          -- NULL: not quarantined
    quarantine_kind    TEXT,             -- ceiling | breaker
    quarantine_reason  TEXT,
    quarantine_run     TEXT,             -- the policy run that was held or stopped
    held               TEXT,             -- JSON: the held plan's counts and the gate's summary
    running_run        TEXT,             -- a cycle in progress (NULL when none)
    running_pid        INTEGER,
    next_run_ms        INTEGER,
    last_success_ms    INTEGER,
    released_ms        INTEGER,
    released_by        TEXT,
    PRIMARY KEY (profile, policy)
);
CREATE TABLE sync_run (
    seq          INTEGER PRIMARY KEY,
    profile      TEXT NOT NULL,
    policy       TEXT NOT NULL,
    run_id       TEXT,
    started_ms   INTEGER NOT NULL,
    finished_ms  INTEGER NOT NULL,
    result       TEXT NOT NULL,          -- applied | no_changes | failed | quarantined | held | locked | error | interrupted
    message      TEXT,
    counts       TEXT NOT NULL           -- JSON: operations by outcome, the plan's counts
);
CREATE INDEX sync_run_policy ON sync_run (profile, policy, seq);
";

/// What a deactivation takes away (migration 5): one row per deactivation op, written before the
/// op is sent (with the batch, or by the engine just before sending) and never changed after, so
/// that `scimitar restore` can put the user's group memberships and roles back
/// (`queue::kept`). `groups` is NULL when the server did not say which groups the user was in.
/// Plus an index for the console's list of past batches.
const KEPT: &str = "
CREATE TABLE kept (
    op_id      TEXT PRIMARY KEY REFERENCES op(op_id),
    batch_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    taken_ms   INTEGER NOT NULL,
    source     TEXT NOT NULL,
    groups     TEXT,                 -- JSON: [{id, name}]
    roles      TEXT NOT NULL         -- JSON: [role]
);
CREATE INDEX kept_user ON kept (user_id, taken_ms);
CREATE INDEX kept_batch ON kept (batch_id);
CREATE INDEX batch_created ON batch (created_ms);
";

/// The report in about half the space (migration 6; issue 14): the same records, the same hash
/// chain, converted in place.
///
/// - The names a record carries (API host, target id, email, userName, display name, OS user and
///   host, and the lower-cased email and userName the user filter matches) repeat on every record
///   about the same user from the same machine: they are stored once per distinct combination in
///   `report_names`, and `report.names_id` points there. The user filter's indexes
///   (`report_target_id`, `report_email`, `report_user_name`) are on that small table now; `report`
///   keeps one narrow index on `names_id`.
/// - The columns of the same name in `report` stay, normally NULL: a value there takes the place
///   of the one in `report_names` (nothing writes one; a hand edit of the file still shows in
///   `report verify`).
/// - `started_ms` is NULL when it is `finished_ms - duration_ms` (nearly always).
/// - `prev_hash` and `hash` are the 32 bytes of the SHA-256 instead of 64 hex digits (a value
///   that is not 64 lower-case hex digits, e.g. after a hand edit, stays as it was).
/// - `report_op` (by op id) goes: no query uses it.
///
/// What is hashed does not change: [`crate::report`] rebuilds each record's columns as migration 1
/// stored them, so every existing hash still verifies and exports are byte for byte the same.
const REPORT_COMPACT: &str = "
CREATE TABLE report_names (
    id               INTEGER PRIMARY KEY,
    host             TEXT,
    target_id        TEXT,
    target_email     TEXT,
    target_user_name TEXT,
    target_display   TEXT,
    os_user          TEXT,
    os_host          TEXT,
    email_key        TEXT,
    user_name_key    TEXT
);
INSERT INTO report_names (host, target_id, target_email, target_user_name, target_display, os_user, os_host, email_key, user_name_key)
    SELECT DISTINCT host, target_id, target_email, target_user_name, target_display, os_user, os_host, email_key, user_name_key
    FROM report;
-- finds a record's names when appending (`IS`: NULLs match)
CREATE INDEX report_names_all ON report_names
    (target_id, target_email, target_user_name, target_display, host, os_user, os_host, email_key, user_name_key);
CREATE TABLE report_v6 (
    seq              INTEGER PRIMARY KEY,
    op_id            TEXT NOT NULL,
    batch_id         TEXT,
    policy_run       TEXT,
    started_ms       INTEGER,          -- NULL: finished_ms - duration_ms
    finished_ms      INTEGER NOT NULL,
    profile          TEXT NOT NULL,
    action           TEXT NOT NULL,
    outcome          TEXT NOT NULL,
    error_code       TEXT,
    error_message    TEXT,
    http_status      INTEGER,
    retries          INTEGER NOT NULL,
    duration_ms      INTEGER NOT NULL,
    detail           TEXT,
    names_id         INTEGER NOT NULL, -- report_names.id
    prev_hash        BLOB NOT NULL,
    hash             BLOB NOT NULL,
    -- NULL: the value in report_names
    host             TEXT,
    target_id        TEXT,
    target_email     TEXT,
    target_user_name TEXT,
    target_display   TEXT,
    os_user          TEXT,
    os_host          TEXT,
    email_key        TEXT,
    user_name_key    TEXT
);
INSERT INTO report_v6 (seq, op_id, batch_id, policy_run, started_ms, finished_ms, profile, action, outcome, error_code,
                       error_message, http_status, retries, duration_ms, detail, names_id, prev_hash, hash)
    SELECT r.seq, r.op_id, r.batch_id, r.policy_run,
           CASE WHEN typeof(r.started_ms) = 'integer' AND typeof(r.finished_ms) = 'integer' AND typeof(r.duration_ms) = 'integer'
                     AND typeof(r.finished_ms - r.duration_ms) = 'integer' AND r.started_ms = r.finished_ms - r.duration_ms
                THEN NULL ELSE r.started_ms END,
           r.finished_ms, r.profile, r.action, r.outcome, r.error_code, r.error_message, r.http_status, r.retries,
           r.duration_ms, r.detail, n.id,
           CASE WHEN typeof(r.prev_hash) = 'text' AND length(r.prev_hash) = 64 AND r.prev_hash NOT GLOB '*[^0-9a-f]*'
                THEN unhex(r.prev_hash) ELSE r.prev_hash END,
           CASE WHEN typeof(r.hash) = 'text' AND length(r.hash) = 64 AND r.hash NOT GLOB '*[^0-9a-f]*'
                THEN unhex(r.hash) ELSE r.hash END
    FROM report r JOIN report_names n
        ON n.target_id IS r.target_id AND n.target_email IS r.target_email AND n.target_user_name IS r.target_user_name
       AND n.target_display IS r.target_display AND n.host IS r.host AND n.os_user IS r.os_user AND n.os_host IS r.os_host
       AND n.email_key IS r.email_key AND n.user_name_key IS r.user_name_key
    ORDER BY r.seq;
DROP TABLE report;
ALTER TABLE report_v6 RENAME TO report;
-- time span queries, summaries and per-day counts are answered from this index alone
CREATE INDEX report_finished ON report (finished_ms, action, outcome);
CREATE INDEX report_names_id ON report (names_id);
CREATE INDEX report_batch ON report (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX report_policy_run ON report (policy_run) WHERE policy_run IS NOT NULL;
-- the user filter: the matching names first, then their records by `report_names_id`
CREATE INDEX report_target_id ON report_names (target_id) WHERE target_id IS NOT NULL;
CREATE INDEX report_email ON report_names (email_key) WHERE email_key IS NOT NULL;
CREATE INDEX report_user_name ON report_names (user_name_key) WHERE user_name_key IS NOT NULL;
-- the per-day counts' triggers (migration 3) went with the old table: the same again
CREATE TRIGGER report_counts_insert AFTER INSERT ON report BEGIN
    INSERT INTO report_counts (day, profile, action, outcome, n)
        VALUES (NEW.finished_ms / 86400000 - (NEW.finished_ms % 86400000 < 0), NEW.profile, NEW.action, NEW.outcome, 1)
        ON CONFLICT (day, profile, action, outcome) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER report_counts_delete AFTER DELETE ON report BEGIN
    UPDATE report_counts SET n = n - 1
        WHERE day = OLD.finished_ms / 86400000 - (OLD.finished_ms % 86400000 < 0)
          AND profile = OLD.profile AND action = OLD.action AND outcome = OLD.outcome;
    DELETE FROM report_counts
        WHERE day = OLD.finished_ms / 86400000 - (OLD.finished_ms % 86400000 < 0)
          AND profile = OLD.profile AND action = OLD.action AND outcome = OLD.outcome AND n <= 0;
END;
CREATE TRIGGER report_counts_update AFTER UPDATE OF finished_ms, profile, action, outcome ON report BEGIN
    UPDATE report_counts SET n = n - 1
        WHERE day = OLD.finished_ms / 86400000 - (OLD.finished_ms % 86400000 < 0)
          AND profile = OLD.profile AND action = OLD.action AND outcome = OLD.outcome;
    DELETE FROM report_counts
        WHERE day = OLD.finished_ms / 86400000 - (OLD.finished_ms % 86400000 < 0)
          AND profile = OLD.profile AND action = OLD.action AND outcome = OLD.outcome AND n <= 0;
    INSERT INTO report_counts (day, profile, action, outcome, n)
        VALUES (NEW.finished_ms / 86400000 - (NEW.finished_ms % 86400000 < 0), NEW.profile, NEW.action, NEW.outcome, 1)
        ON CONFLICT (day, profile, action, outcome) DO UPDATE SET n = n + 1;
END;
";

/// A team's store (migration 7, issue 21): the lease per Slack org, and who owns and who asked for
/// each batch.
///
/// - `lease`: one row per org key (`store::lease::OrgKey`). `generation` goes up by one each
///   time someone takes the lease; every operation carries the generation it runs under, and the
///   journal refuses to mark an op running or record its result under another (fencing).
///   `holder` names who holds it (JSON: account, host, pid, command, since; NULL once released);
///   `expires_ms` is when it lapses unless renewed (0 once released), by the store's clock.
/// - `batch.org`, `batch.lease_generation`: the org and the lease generation of the run that owns
///   the batch (whoever created it, then whoever resumed it). `resume` touches only batches whose
///   owner's lease is gone.
/// - `batch.proposed_by` (`account@host`, with the database role on PostgreSQL) and
///   `batch.approved_by` (four-eyes approvals; NULL until those exist).
/// - `report.db_role`, `report.proposed_by`, `report.approved_by`: the same on each record. When
///   any of them is set the record's hash covers them too (`report::chain_digest`); records
///   without them hash exactly as before.
const TEAM: &str = "
CREATE TABLE lease (
    org          TEXT PRIMARY KEY,
    generation   INTEGER NOT NULL,
    holder       TEXT,
    acquired_ms  INTEGER,
    expires_ms   INTEGER NOT NULL
);
ALTER TABLE batch ADD COLUMN org TEXT;
ALTER TABLE batch ADD COLUMN lease_generation INTEGER;
ALTER TABLE batch ADD COLUMN proposed_by TEXT;
ALTER TABLE batch ADD COLUMN approved_by TEXT;
ALTER TABLE report ADD COLUMN db_role TEXT;
ALTER TABLE report ADD COLUMN proposed_by TEXT;
ALTER TABLE report ADD COLUMN approved_by TEXT;
";

/// Four-eyes approvals (migration 8, issue 21; `crate::approval`): a batch over the profile's
/// `approval_over`, held until another account approves or rejects it.
///
/// - `actions`: the runnable actions as the proposer's gate decided them (JSON, as the journal
///   keeps actions); `screening`: what the proposer saw (the gate's summary, skips, ceilings).
/// - `proposer` (`account@host`, with the database role on PostgreSQL) and `proposer_account`
///   (the OS account of the proposer's uid: an approver with the same account is refused).
/// - `policy`: the policy a `sync` proposal is of (its quarantine is released once it has run).
/// - `state`: `pending`, `approved` (being run), `run` (its batch finished: `batch_id`),
///   `rejected`; `decided_by`/`decided_ms`/`reason` who approved or rejected it, when and why.
const APPROVALS: &str = "
CREATE TABLE approval (
    approval_id      TEXT PRIMARY KEY,
    created_ms       INTEGER NOT NULL,
    profile          TEXT NOT NULL,
    host             TEXT NOT NULL,
    org              TEXT,
    origin           TEXT NOT NULL,
    policy_run       TEXT,
    policy           TEXT,
    description      TEXT NOT NULL,
    proposer         TEXT NOT NULL,
    proposer_account TEXT NOT NULL,
    actions          TEXT NOT NULL,
    screening        TEXT NOT NULL,
    users            INTEGER NOT NULL,
    operations       INTEGER NOT NULL,
    deactivations    INTEGER NOT NULL,
    state            TEXT NOT NULL,
    decided_by       TEXT,
    decided_ms       INTEGER,
    reason           TEXT,
    batch_id         TEXT
);
CREATE INDEX approval_state ON approval (state, created_ms);
";

/// The PostgreSQL store's migrations (`store::pg`), applied in order in one transaction under an
/// advisory lock; `scimitar_schema` holds the versions applied. The first one is the whole schema
/// of SQLite's migrations 1-7 in PostgreSQL's types (every integer `BIGINT`, hashes `BYTEA`), so
/// the same SQL reads and writes both. Differences: `report_names.names_key` (the SHA-256 of the
/// nine names, unique: PostgreSQL cannot use an index for a null-safe match of nine columns, so a
/// record finds its names by this key) and the per-day counts kept by one PL/pgSQL trigger.
pub const PG_MIGRATIONS: &[&str] = &[PG_V1, PG_APPROVALS, PG_CHANGES];

/// PostgreSQL's migration 3: live consoles. Every transaction that appends report records or
/// writes approvals notifies `scimitar_changes` when it commits (`store::pg::listen`; SQLite's
/// consoles poll `PRAGMA data_version` instead).
const PG_CHANGES: &str = "
CREATE FUNCTION scimitar_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('scimitar_changes', TG_TABLE_NAME);
    RETURN NULL;
END
$$;
CREATE TRIGGER report_changed AFTER INSERT ON report FOR EACH STATEMENT EXECUTE FUNCTION scimitar_changed();
CREATE TRIGGER approval_changed AFTER INSERT OR UPDATE ON approval FOR EACH STATEMENT EXECUTE FUNCTION scimitar_changed();
";

/// PostgreSQL's migration 2: four-eyes approvals, as SQLite's migration 8 ([`APPROVALS`]).
const PG_APPROVALS: &str = "
CREATE TABLE approval (
    approval_id      TEXT PRIMARY KEY,
    created_ms       BIGINT NOT NULL,
    profile          TEXT NOT NULL,
    host             TEXT NOT NULL,
    org              TEXT,
    origin           TEXT NOT NULL,
    policy_run       TEXT,
    policy           TEXT,
    description      TEXT NOT NULL,
    proposer         TEXT NOT NULL,
    proposer_account TEXT NOT NULL,
    actions          TEXT NOT NULL,
    screening        TEXT NOT NULL,
    users            BIGINT NOT NULL,
    operations       BIGINT NOT NULL,
    deactivations    BIGINT NOT NULL,
    state            TEXT NOT NULL,
    decided_by       TEXT,
    decided_ms       BIGINT,
    reason           TEXT,
    batch_id         TEXT
);
CREATE INDEX approval_state ON approval (state, created_ms);
";

const PG_V1: &str = "
CREATE TABLE report_names (
    id               BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    names_key        BYTEA NOT NULL UNIQUE,
    host             TEXT,
    target_id        TEXT,
    target_email     TEXT,
    target_user_name TEXT,
    target_display   TEXT,
    os_user          TEXT,
    os_host          TEXT,
    email_key        TEXT,
    user_name_key    TEXT
);
CREATE TABLE report (
    seq              BIGINT PRIMARY KEY,
    op_id            TEXT NOT NULL,
    batch_id         TEXT,
    policy_run       TEXT,
    started_ms       BIGINT,
    finished_ms      BIGINT NOT NULL,
    profile          TEXT NOT NULL,
    action           TEXT NOT NULL,
    outcome          TEXT NOT NULL,
    error_code       TEXT,
    error_message    TEXT,
    http_status      BIGINT,
    retries          BIGINT NOT NULL,
    duration_ms      BIGINT NOT NULL,
    detail           TEXT,
    names_id         BIGINT NOT NULL,
    prev_hash        BYTEA NOT NULL,
    hash             BYTEA NOT NULL,
    host             TEXT,
    target_id        TEXT,
    target_email     TEXT,
    target_user_name TEXT,
    target_display   TEXT,
    os_user          TEXT,
    os_host          TEXT,
    email_key        TEXT,
    user_name_key    TEXT,
    db_role          TEXT,
    proposed_by      TEXT,
    approved_by      TEXT
);
CREATE INDEX report_finished ON report (finished_ms, action, outcome);
CREATE INDEX report_finished_seq ON report (finished_ms DESC, seq DESC);
CREATE INDEX report_names_id ON report (names_id);
CREATE INDEX report_batch ON report (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX report_policy_run ON report (policy_run) WHERE policy_run IS NOT NULL;
CREATE INDEX report_target_id ON report_names (target_id) WHERE target_id IS NOT NULL;
CREATE INDEX report_email ON report_names (email_key) WHERE email_key IS NOT NULL;
CREATE INDEX report_user_name ON report_names (user_name_key) WHERE user_name_key IS NOT NULL;
CREATE TABLE report_chain (
    id           BIGINT PRIMARY KEY CHECK (id = 1),
    head_seq     BIGINT NOT NULL,
    head_hash    TEXT NOT NULL,
    anchor_seq   BIGINT NOT NULL,
    anchor_hash  TEXT NOT NULL,
    pruned_at_ms BIGINT
);
INSERT INTO report_chain (id, head_seq, head_hash, anchor_seq, anchor_hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000',
               0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE TABLE report_counts (
    day     BIGINT NOT NULL,
    profile TEXT NOT NULL,
    action  TEXT NOT NULL,
    outcome TEXT NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (day, profile, action, outcome)
);
CREATE FUNCTION report_counts_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE report_counts SET n = n - 1
            WHERE day = floor(OLD.finished_ms / 86400000.0) AND profile = OLD.profile AND action = OLD.action AND outcome = OLD.outcome;
        DELETE FROM report_counts
            WHERE day = floor(OLD.finished_ms / 86400000.0) AND profile = OLD.profile AND action = OLD.action AND outcome = OLD.outcome
              AND n <= 0;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO report_counts (day, profile, action, outcome, n)
            VALUES (floor(NEW.finished_ms / 86400000.0), NEW.profile, NEW.action, NEW.outcome, 1)
            ON CONFLICT (day, profile, action, outcome) DO UPDATE SET n = report_counts.n + 1;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER report_counts_keep AFTER INSERT OR DELETE OR UPDATE OF finished_ms, profile, action, outcome ON report
    FOR EACH ROW EXECUTE FUNCTION report_counts_keep();
CREATE TABLE batch (
    batch_id         TEXT PRIMARY KEY,
    created_ms       BIGINT NOT NULL,
    origin           TEXT NOT NULL,
    policy_run       TEXT,
    description      TEXT NOT NULL,
    profile          TEXT NOT NULL,
    host             TEXT NOT NULL,
    state            TEXT NOT NULL,
    org              TEXT,
    lease_generation BIGINT,
    proposed_by      TEXT,
    approved_by      TEXT
);
CREATE INDEX batch_created ON batch (created_ms);
CREATE TABLE op (
    op_id         TEXT PRIMARY KEY,
    batch_id      TEXT NOT NULL REFERENCES batch(batch_id),
    seq           BIGINT NOT NULL,
    phase         BIGINT NOT NULL,
    action        TEXT NOT NULL,
    object_key    TEXT NOT NULL,
    state         TEXT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    started_ms    BIGINT,
    finished_ms   BIGINT,
    error_code    TEXT,
    error_message TEXT,
    http_status   BIGINT,
    retries       BIGINT NOT NULL DEFAULT 0,
    note          TEXT
);
CREATE INDEX op_batch ON op (batch_id, phase, seq);
CREATE INDEX op_open ON op (state) WHERE state IN ('pending', 'running');
CREATE TABLE kept (
    op_id      TEXT PRIMARY KEY REFERENCES op(op_id),
    batch_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    taken_ms   BIGINT NOT NULL,
    source     TEXT NOT NULL,
    groups     TEXT,
    roles      TEXT NOT NULL
);
CREATE INDEX kept_user ON kept (user_id, taken_ms);
CREATE INDEX kept_batch ON kept (batch_id);
CREATE TABLE sync_state (
    profile            TEXT NOT NULL,
    policy             TEXT NOT NULL,
    quarantined_ms     BIGINT,
    quarantine_kind    TEXT,
    quarantine_reason  TEXT,
    quarantine_run     TEXT,
    held               TEXT,
    running_run        TEXT,
    running_pid        BIGINT,
    next_run_ms        BIGINT,
    last_success_ms    BIGINT,
    released_ms        BIGINT,
    released_by        TEXT,
    PRIMARY KEY (profile, policy)
);
CREATE TABLE sync_run (
    seq          BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    profile      TEXT NOT NULL,
    policy       TEXT NOT NULL,
    run_id       TEXT,
    started_ms   BIGINT NOT NULL,
    finished_ms  BIGINT NOT NULL,
    result       TEXT NOT NULL,
    message      TEXT,
    counts       TEXT NOT NULL
);
CREATE INDEX sync_run_policy ON sync_run (profile, policy, seq);
CREATE TABLE lease (
    org          TEXT PRIMARY KEY,
    generation   BIGINT NOT NULL,
    holder       TEXT,
    acquired_ms  BIGINT,
    expires_ms   BIGINT NOT NULL
);
";
