//! Every table of the database, as the migrations that made it: the one place the schema is
//! written down. `PRAGMA user_version` is the number of entries applied so far.

/// Schema migrations, applied in order, each in its own transaction. Never edit a released entry;
/// append a new one.
pub const MIGRATIONS: &[&str] = &[
    REPORT,        // v1: provisioning reports (`report`, `report_chain`)
    JOURNAL,       // v2: the action-queue journal (`batch`, `op`)
    REPORT_COUNTS, // v3: per-day report counts (backfilled; kept by triggers)
    SYNC,          // v4: `scimitar sync`'s state per policy (quarantine, run in progress) and its runs
    KEPT,          // v5: what each deactivation took away (groups, roles), kept before it was sent
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
