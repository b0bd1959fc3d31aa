-- The deal desk: contacts, leads, deals, market policies, offer strategies, ladders,
-- the message ledger (outbox and transcript), buyers and their matches.
-- '' (not NULL) stands for "no market" so (province, market) can be UNIQUE on both engines.

CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    phone TEXT UNIQUE,
    email TEXT UNIQUE,
    state TEXT NOT NULL,
    consent BOOLEAN NOT NULL,
    opted_out BOOLEAN NOT NULL DEFAULT 0,
    needs_human BOOLEAN NOT NULL DEFAULT 0,
    needs_human_reason TEXT,
    country TEXT,
    province TEXT,
    market TEXT,
    timezone TEXT,
    asked TEXT,
    unknown_streak INTEGER NOT NULL DEFAULT 0,
    state_before_opt_out TEXT,
    phone_invalid BOOLEAN NOT NULL DEFAULT 0,
    deal_id TEXT,
    reply_token TEXT NOT NULL UNIQUE,
    last_inbound_at TIMESTAMPTZ,
    is_test BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX contacts_state ON contacts (state);
CREATE INDEX contacts_needs_human ON contacts (needs_human, updated_at);

CREATE TABLE deals (
    id TEXT PRIMARY KEY,
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    lead_id TEXT NOT NULL,
    address TEXT NOT NULL,
    city TEXT,
    region TEXT,
    postal_code TEXT,
    province TEXT,
    market TEXT,
    timezone TEXT,
    property_type TEXT,
    bedrooms INTEGER,
    bathrooms REAL,
    sqft INTEGER,
    condition TEXT,
    timeline TEXT,
    motivation TEXT,
    asking_price BIGINT,
    arv BIGINT,
    repair_estimate BIGINT,
    mao BIGINT,
    opening_offer BIGINT,
    current_offer BIGINT,
    offer_rounds INTEGER NOT NULL DEFAULT 0,
    accepted_price BIGINT,
    liquidity_score INTEGER,
    status TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX deals_contact ON deals (contact_id);

CREATE TABLE leads (
    id TEXT PRIMARY KEY,
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    deal_id TEXT NOT NULL REFERENCES deals (id),
    source TEXT,
    submitted JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX leads_contact ON leads (contact_id);

CREATE TABLE policies (
    id TEXT PRIMARY KEY,
    province TEXT NOT NULL,
    market TEXT NOT NULL DEFAULT '',
    timezone TEXT NOT NULL,
    windows JSONB NOT NULL,
    holidays JSONB NOT NULL,
    max_messages_per_day INTEGER,
    reply_grace_minutes INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (province, market)
);

CREATE TABLE offer_strategies (
    id TEXT PRIMARY KEY,
    province TEXT NOT NULL DEFAULT '',
    market TEXT NOT NULL DEFAULT '',
    arv_pct TEXT NOT NULL,
    assignment_fee BIGINT NOT NULL,
    min_offer BIGINT,
    max_offer BIGINT,
    round_to BIGINT NOT NULL,
    opening_pct TEXT NOT NULL,
    max_counter_rounds INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (province, market)
);

CREATE TABLE ladders (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    province TEXT NOT NULL DEFAULT '',
    market TEXT NOT NULL DEFAULT '',
    steps JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ladders_area ON ladders (province, market, created_at);

CREATE TABLE ladder_steps (
    id TEXT PRIMARY KEY,
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    deal_id TEXT,
    ladder_id TEXT,
    ladder_name TEXT NOT NULL,
    position INTEGER NOT NULL,
    channel TEXT NOT NULL,
    template TEXT NOT NULL,
    due_at TIMESTAMPTZ NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    message_id TEXT,
    note TEXT,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (contact_id, ladder_name, position)
);
CREATE INDEX ladder_steps_due ON ladder_steps (status, due_at);
CREATE INDEX ladder_steps_contact ON ladder_steps (contact_id, status);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    direction TEXT NOT NULL,
    channel TEXT NOT NULL,
    contact_id TEXT REFERENCES contacts (id),
    buyer_id TEXT,
    deal_id TEXT,
    step_id TEXT,
    to_addr TEXT NOT NULL,
    from_addr TEXT,
    template TEXT,
    subject TEXT,
    body TEXT NOT NULL,
    html TEXT,
    status TEXT NOT NULL,
    origin TEXT NOT NULL,
    is_reply BOOLEAN NOT NULL DEFAULT 0,
    provider_id TEXT,
    email_message_id TEXT,
    in_reply_to TEXT,
    error_code TEXT,
    error_reason TEXT,
    intent TEXT,
    intent_data JSONB,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    processed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX messages_provider ON messages (direction, channel, provider_id) WHERE provider_id IS NOT NULL;
CREATE UNIQUE INDEX messages_email_id ON messages (direction, email_message_id) WHERE email_message_id IS NOT NULL;
CREATE INDEX messages_outbox ON messages (status, next_attempt_at);
CREATE INDEX messages_contact ON messages (contact_id, created_at);
CREATE INDEX messages_buyer ON messages (buyer_id, created_at);
CREATE INDEX messages_unprocessed ON messages (direction, processed_at);

-- Provider nonces seen once (inbound email webhook tokens): a replayed token is refused.
CREATE TABLE seen_tokens (
    token TEXT PRIMARY KEY,
    seen_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE buyers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    phone TEXT,
    provinces JSONB NOT NULL,
    markets JSONB NOT NULL,
    property_types JSONB NOT NULL,
    min_price BIGINT,
    max_price BIGINT,
    min_bedrooms INTEGER,
    max_repairs BIGINT,
    active BOOLEAN NOT NULL,
    opted_out BOOLEAN NOT NULL DEFAULT 0,
    purchases_last_12m INTEGER NOT NULL DEFAULT 0,
    is_test BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- One row per (buyer, province, market): what the matching query finds by index.
-- market '' means the buyer takes the whole province.
CREATE TABLE buyer_areas (
    buyer_id TEXT NOT NULL REFERENCES buyers (id) ON DELETE CASCADE,
    province TEXT NOT NULL,
    market TEXT NOT NULL,
    PRIMARY KEY (province, market, buyer_id)
);
CREATE INDEX buyer_areas_buyer ON buyer_areas (buyer_id);

CREATE TABLE deal_matches (
    deal_id TEXT NOT NULL REFERENCES deals (id),
    buyer_id TEXT NOT NULL REFERENCES buyers (id),
    score REAL NOT NULL,
    status TEXT NOT NULL,
    message_id TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (deal_id, buyer_id)
);
CREATE INDEX deal_matches_buyer ON deal_matches (buyer_id, created_at);
