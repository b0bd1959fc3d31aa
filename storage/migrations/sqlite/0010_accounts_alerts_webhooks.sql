-- Issue 24, the operator's inbox: accounts and sessions, who did what, hot-lead alerts, outbound webhooks.

-- Operators who log in to the dashboard (`dealbot users add EMAIL`). The hash is
-- scrypt$N$r$p$salt$key (bot/accounts.py); the email is stored lower-cased.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- Dashboard sessions, server-side: the cookie holds a random token, the row its SHA-256 (a copy
-- of the table opens no session). actor: the operator's email, or 'api' for a login with the
-- API key (key_digest then names that key, so changing the key ends those sessions).
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    actor TEXT NOT NULL,
    user_id TEXT,
    key_digest TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Failed logins per scope ('email:<address>' or 'ip:<address>'): counted in a window, then
-- each further try waits until blocked_until.
CREATE TABLE login_failures (
    scope TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    blocked_until TIMESTAMPTZ
);

-- What a person did, and who: manual messages, notes, take-overs and resumes.
CREATE TABLE operator_actions (
    id INTEGER PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    contact_id TEXT,
    deal_id TEXT,
    data JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX operator_actions_contact ON operator_actions (contact_id, id);
-- Who sent a manual message (an operator's email, or 'api'); NULL for the bot's own.
ALTER TABLE messages ADD COLUMN sent_by TEXT;

-- Hot-lead alerts: the last one per seller and reason (at most one an hour).
CREATE TABLE operator_alerts (
    contact_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (contact_id, reason)
);

-- Outbound webhook subscriptions: events is a JSON array of names; deleted_at ends one.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    events JSONB NOT NULL,
    secret TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);

-- One event for one subscription: the ledger the delivery loop claims from, like the outbox.
-- seq orders them (per contact, a delivery waits for the earlier ones of its subscription);
-- body is the exact JSON sent on every try; status pending, sending, delivered, failed.
CREATE TABLE webhook_deliveries (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    webhook_id TEXT NOT NULL,
    event TEXT NOT NULL,
    contact_id TEXT,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    claimed_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    last_status INTEGER,
    last_error TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (webhook_id, contact_id, seq);

-- Every try of a delivery: when, the HTTP status (NULL when none came) or the error, how long.
CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    status INTEGER,
    error TEXT,
    ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- The KPI trail read so far by the webhook fan-out (one row, the last kpi_events.id read).
INSERT INTO meta (key, value) VALUES ('webhooks.kpi_cursor', '0');
