-- Buy boxes per area, denormalised so that matching and liquidity read one key range of one
-- table (province, market) with no join per buyer: 100,000 buyers are matched in SQL.
-- The buyers row stays the record; these rows derive from it (storage/buyers.py writes both in
-- one unit of work) and a trigger keeps `eligible` in step with buyers.active/opted_out,
-- whoever changes them. Nothing wrote buyers before this version (the buyers API and import
-- arrive with it), so the table is recreated empty.
DROP TABLE buyer_areas;

CREATE TABLE buyer_areas (
    province TEXT NOT NULL,
    market TEXT NOT NULL,                 -- '' = the whole province
    buyer_id TEXT NOT NULL REFERENCES buyers (id) ON DELETE CASCADE,
    eligible BOOLEAN NOT NULL,            -- active and not opted out: may be alerted
    min_price BIGINT,
    max_price BIGINT,
    min_bedrooms INTEGER,
    max_repairs BIGINT,
    type_mask BIGINT NOT NULL,            -- bit i set: bot.matching.PROPERTY_TYPES[i] taken; 0 = any
    purchases_last_12m INTEGER NOT NULL,
    activity DOUBLE PRECISION NOT NULL,   -- the fit score's activity part, 0..1
    PRIMARY KEY (province, market, buyer_id)
) WITHOUT ROWID;
CREATE INDEX buyer_areas_buyer ON buyer_areas (buyer_id);
-- A market's liquidity: its eligible buyers heaviest first (activity rises with purchases),
-- counted and listed from the index alone.
CREATE INDEX buyer_areas_liquidity
    ON buyer_areas (province, market, eligible, activity DESC, buyer_id, purchases_last_12m);

CREATE TRIGGER buyers_eligible AFTER UPDATE OF active, opted_out ON buyers
WHEN OLD.active IS NOT NEW.active OR OLD.opted_out IS NOT NEW.opted_out
BEGIN
    UPDATE buyer_areas SET eligible = (NEW.active AND NOT NEW.opted_out) WHERE buyer_id = NEW.id;
END;
