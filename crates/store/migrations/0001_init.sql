-- Runs, their episode attempts, and every policy turn of every attempt.
CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    config      TEXT NOT NULL,
    status      TEXT NOT NULL
);

CREATE TABLE episodes (
    id                        INTEGER PRIMARY KEY,
    run_id                    TEXT NOT NULL REFERENCES runs(id),
    task_id                   TEXT NOT NULL,
    attempt                   INTEGER NOT NULL,
    -- running | finished | agent_error | infra_error | interrupted
    status                    TEXT NOT NULL,
    end_reason                TEXT,
    resolved                  INTEGER,
    grade                     TEXT,
    patch                     TEXT,
    report                    TEXT,
    error                     TEXT,
    steps                     INTEGER NOT NULL DEFAULT 0,
    proposals                 INTEGER NOT NULL DEFAULT 0,
    interventions             INTEGER NOT NULL DEFAULT 0,
    format_errors             INTEGER NOT NULL DEFAULT 0,
    policy_input_tokens       INTEGER NOT NULL DEFAULT 0,
    policy_output_tokens      INTEGER NOT NULL DEFAULT 0,
    policy_cost_usd           REAL NOT NULL DEFAULT 0,
    supervisor_input_tokens   INTEGER NOT NULL DEFAULT 0,
    supervisor_output_tokens  INTEGER NOT NULL DEFAULT 0,
    supervisor_cost_usd       REAL NOT NULL DEFAULT 0,
    started_at                TEXT NOT NULL,
    finished_at               TEXT,
    UNIQUE (run_id, task_id, attempt)
);

-- A task is finished at most once per run, whatever crashes and resumes happen.
CREATE UNIQUE INDEX episodes_one_final ON episodes (run_id, task_id)
    WHERE status IN ('finished', 'agent_error');

CREATE TABLE steps (
    id                        INTEGER PRIMARY KEY,
    episode_id                INTEGER NOT NULL REFERENCES episodes(id),
    idx                       INTEGER NOT NULL,
    proposal_text             TEXT NOT NULL,
    proposal                  TEXT,
    format_error              TEXT,
    verdict                   TEXT,
    verdict_detail            TEXT,
    executed                  TEXT,
    observation               TEXT NOT NULL,
    exit_code                 INTEGER,
    policy_input_tokens       INTEGER NOT NULL,
    policy_output_tokens      INTEGER NOT NULL,
    policy_cost_usd           REAL NOT NULL,
    supervisor_input_tokens   INTEGER NOT NULL,
    supervisor_output_tokens  INTEGER NOT NULL,
    supervisor_cost_usd       REAL NOT NULL,
    policy_ms                 INTEGER NOT NULL,
    supervisor_ms             INTEGER NOT NULL,
    exec_ms                   INTEGER NOT NULL,
    created_at                TEXT NOT NULL,
    UNIQUE (episode_id, idx)
);
