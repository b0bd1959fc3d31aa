-- Foundation: settings kept with the data, the KPI trail, idempotency records.

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE kpi_events (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    contact_id TEXT,
    deal_id TEXT,
    data JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX kpi_events_name ON kpi_events (name, id);
CREATE INDEX kpi_events_at ON kpi_events (at);
CREATE INDEX kpi_events_contact ON kpi_events (contact_id, id);
CREATE INDEX kpi_events_deal ON kpi_events (deal_id, id);

-- One row per (scope, key): the first answer is kept and replayed byte for byte.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    body BLOB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, key)
);
