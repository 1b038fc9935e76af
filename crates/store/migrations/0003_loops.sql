-- The skill-acquisition loop: rounds of supervised attempts, export and training. Each round's
-- attempts are two ordinary runs (train tasks, held-out tasks in shadow mode), so `show` and
-- `export` see them like any other run; this table ties them to the round and keeps what the
-- round measured and trained.
CREATE TABLE loops (
    id          TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    config      TEXT NOT NULL,
    -- running | finished | interrupted | failed
    status      TEXT NOT NULL
);

CREATE TABLE loop_rounds (
    loop_id           TEXT NOT NULL REFERENCES loops(id),
    round             INTEGER NOT NULL,
    -- the policy spec the round's attempts ran with
    policy            TEXT NOT NULL,
    train_run         TEXT NOT NULL,
    held_out_run      TEXT NOT NULL,
    -- running | finished
    status            TEXT NOT NULL,
    -- JSON: resolve, intervention and format-error rates, steps per episode, proposals
    train_metrics     TEXT,
    held_out_metrics  TEXT,
    -- the adapter this round trained, which the next round's policy runs with
    adapter           TEXT,
    sft_rows          INTEGER NOT NULL DEFAULT 0,
    dpo_pairs         INTEGER NOT NULL DEFAULT 0,
    sft_loss          REAL,
    dpo_loss          REAL,
    -- JSON: the training stage in detail (rows exported and used, steps, files)
    training          TEXT,
    wall_seconds      REAL,
    started_at        TEXT NOT NULL,
    finished_at       TEXT,
    PRIMARY KEY (loop_id, round)
);
