-- Enrich a stream of visits with the location of their IP address, exactly once.
-- Run once in the target database (psql -f schema.sql); the objects go in the current schema.

-- The lookup table the batch is joined against: networks and where they are.
CREATE TABLE IF NOT EXISTS ip_locations (
  network cidr PRIMARY KEY,
  country text NOT NULL,
  city text
);
INSERT INTO ip_locations (network, country, city) VALUES
  ('10.0.0.0/8', 'private', NULL),
  ('81.2.69.0/24', 'GB', 'London'),
  ('81.2.69.160/27', 'GB', 'Wimbledon'),
  ('89.160.20.0/24', 'SE', 'Linköping'),
  ('216.160.83.0/24', 'US', 'Milton')
ON CONFLICT (network) DO NOTHING;

-- Where the enriched visits land; one row per source record, carrying its provenance.
CREATE TABLE IF NOT EXISTS visits_enriched (
  ip inet NOT NULL,
  user_id text,
  visited_at timestamptz NOT NULL,
  country text,
  city text,
  source_file text NOT NULL,
  source_line bigint NOT NULL,
  PRIMARY KEY (source_file, source_line)
);

-- Per-country counters updated in the same transaction: a second table kept exactly once.
CREATE TABLE IF NOT EXISTS visits_per_country (
  country text PRIMARY KEY,
  visits bigint NOT NULL
);

-- The sink calls enrich_visits(batch) inside the transaction that also stores the pipeline's
-- watermark. `batch` is a JSON array with one object per record, keyed by the sink's columns
-- (ip, user_id, at, source_file, source_line); `at` is the rowtime in epoch milliseconds.
CREATE OR REPLACE FUNCTION enrich_visits(batch jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  CREATE TEMPORARY TABLE IF NOT EXISTS enriched_batch (LIKE visits_enriched) ON COMMIT DROP;
  TRUNCATE enriched_batch;

  INSERT INTO enriched_batch (ip, user_id, visited_at, country, city, source_file, source_line)
  SELECT b.ip::inet, b.user_id, to_timestamp(b.at / 1000.0), l.country, l.city, b.source_file, b.source_line
  FROM jsonb_to_recordset(batch) AS b(ip text, user_id text, at bigint, source_file text, source_line bigint)
  LEFT JOIN LATERAL (
    SELECT country, city FROM ip_locations
    WHERE network >>= b.ip::inet
    ORDER BY masklen(network) DESC
    LIMIT 1
  ) l ON true;

  INSERT INTO visits_enriched SELECT * FROM enriched_batch;

  INSERT INTO visits_per_country (country, visits)
  SELECT coalesce(country, 'unknown'), count(*) FROM enriched_batch GROUP BY 1
  ON CONFLICT (country) DO UPDATE SET visits = visits_per_country.visits + EXCLUDED.visits;
END $$;
