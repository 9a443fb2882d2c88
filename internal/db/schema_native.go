package db

// The native schema, as numbered migrations. A database records the ones
// applied in hashr_schema_migrations; opening it applies the missing ones
// in order, in one transaction, so a schema is never half migrated. Add a
// migration at the end; never edit one that has shipped.
//
// Digests are stored as bytes (half the size of hex, and compared as
// bytes); the *_hex views show them as lowercase hex. sha256 is each
// table's key, and md5 and sha1 have indexes, so a lookup by any of the
// three is a point query. In PostgreSQL those two are hash indexes: only
// equality is ever asked of a digest, and keeping them cost the server a
// quarter less processor time than B-trees. Paths and source IDs are kept sorted and
// distinct (byte order), so loading a stream twice, or in another order,
// gives the same rows.
//
// samples_sources and payloads have no foreign keys: a loader writes a
// link's sample and source in the same transaction as the link, and the
// triggers that check foreign keys took more than half of PostgreSQL's
// time for a batch (HashR's layout keeps its own, see schema_hashr.go).

type migration struct {
	version  int
	sqlite   []string
	postgres []string
}

var nativeMigrations = []migration{
	{
		version: 1, // the tables
		sqlite: []string{
			`CREATE TABLE sources (
				sha256 BLOB PRIMARY KEY,
				ids TEXT NOT NULL DEFAULT '[]', -- JSON array of every ID the source was seen under
				repo TEXT,
				repo_path TEXT,
				uri TEXT,
				format TEXT,
				size INTEGER,
				mtime TEXT,
				quick_sha256 BLOB,
				description TEXT
			) WITHOUT ROWID`,
			`CREATE TABLE samples (
				sha256 BLOB PRIMARY KEY,
				md5 BLOB,
				sha1 BLOB,
				sha512 BLOB,
				crc32 BLOB,
				blake3 BLOB,
				ssdeep TEXT,
				tlsh TEXT,
				size INTEGER,
				mime TEXT
			) WITHOUT ROWID`,
			`CREATE INDEX samples_md5 ON samples (md5)`,
			`CREATE INDEX samples_sha1 ON samples (sha1)`,
			`CREATE TABLE samples_sources (
				sample_sha256 BLOB NOT NULL,
				source_sha256 BLOB NOT NULL,
				paths TEXT NOT NULL, -- JSON array of the sample's paths in the source
				PRIMARY KEY (sample_sha256, source_sha256)
			) WITHOUT ROWID`,
			`CREATE INDEX samples_sources_source ON samples_sources (source_sha256)`,
			`CREATE TABLE payloads (
				sha256 BLOB PRIMARY KEY,
				payload BLOB NOT NULL
			) WITHOUT ROWID`,
			`CREATE TABLE jobs (
				quick_sha256 BLOB PRIMARY KEY,
				id TEXT,
				repo TEXT,
				repo_path TEXT,
				location TEXT,
				sha256 BLOB,
				status TEXT NOT NULL,
				error TEXT,
				files_extracted INTEGER,
				files_loaded INTEGER,
				new_files INTEGER,
				errors INTEGER,
				bytes INTEGER,
				ms TEXT, -- JSON object: stage -> wall milliseconds
				imported_at TEXT NOT NULL
			) WITHOUT ROWID`,
		},
		postgres: []string{
			`CREATE TABLE sources (
				sha256 bytea PRIMARY KEY,
				ids text[] NOT NULL DEFAULT '{}',
				repo text,
				repo_path text,
				uri text,
				format text,
				size bigint,
				mtime timestamptz,
				quick_sha256 bytea,
				description text
			)`,
			`CREATE TABLE samples (
				sha256 bytea PRIMARY KEY,
				md5 bytea,
				sha1 bytea,
				sha512 bytea,
				crc32 bytea,
				blake3 bytea,
				ssdeep text,
				tlsh text,
				size bigint,
				mime text
			)`,
			`CREATE INDEX samples_md5 ON samples USING hash (md5)`,
			`CREATE INDEX samples_sha1 ON samples USING hash (sha1)`,
			`CREATE TABLE samples_sources (
				sample_sha256 bytea NOT NULL,
				source_sha256 bytea NOT NULL,
				paths text[] NOT NULL,
				PRIMARY KEY (sample_sha256, source_sha256)
			)`,
			`CREATE INDEX samples_sources_source ON samples_sources (source_sha256)`,
			`CREATE TABLE payloads (
				sha256 bytea PRIMARY KEY,
				payload bytea NOT NULL
			)`,
			`CREATE TABLE jobs (
				quick_sha256 bytea PRIMARY KEY,
				id text,
				repo text,
				repo_path text,
				location text,
				sha256 bytea,
				status text NOT NULL,
				error text,
				files_extracted bigint,
				files_loaded bigint,
				new_files bigint,
				errors bigint,
				bytes bigint,
				ms jsonb,
				imported_at timestamptz NOT NULL
			)`,
		},
	},
	{
		version: 2, // views that show digests as hex
		sqlite: []string{
			`CREATE VIEW samples_hex AS SELECT
				lower(hex(sha256)) AS sha256, lower(hex(md5)) AS md5, lower(hex(sha1)) AS sha1,
				lower(hex(sha512)) AS sha512, lower(hex(crc32)) AS crc32, lower(hex(blake3)) AS blake3,
				ssdeep, tlsh, size, mime
			FROM samples`,
			`CREATE VIEW sources_hex AS SELECT
				lower(hex(sha256)) AS sha256, ids, repo, repo_path, uri, format, size, mtime,
				lower(hex(quick_sha256)) AS quick_sha256, description
			FROM sources`,
			`CREATE VIEW samples_sources_hex AS SELECT
				lower(hex(sample_sha256)) AS sample_sha256, lower(hex(source_sha256)) AS source_sha256, paths
			FROM samples_sources`,
			`CREATE VIEW jobs_hex AS SELECT
				lower(hex(quick_sha256)) AS quick_sha256, id, repo, repo_path, location,
				lower(hex(sha256)) AS sha256, status, error, files_extracted, files_loaded, new_files,
				errors, bytes, ms, imported_at
			FROM jobs`,
		},
		postgres: []string{
			`CREATE VIEW samples_hex AS SELECT
				encode(sha256, 'hex') AS sha256, encode(md5, 'hex') AS md5, encode(sha1, 'hex') AS sha1,
				encode(sha512, 'hex') AS sha512, encode(crc32, 'hex') AS crc32, encode(blake3, 'hex') AS blake3,
				ssdeep, tlsh, size, mime
			FROM samples`,
			`CREATE VIEW sources_hex AS SELECT
				encode(sha256, 'hex') AS sha256, ids, repo, repo_path, uri, format, size, mtime,
				encode(quick_sha256, 'hex') AS quick_sha256, description
			FROM sources`,
			`CREATE VIEW samples_sources_hex AS SELECT
				encode(sample_sha256, 'hex') AS sample_sha256, encode(source_sha256, 'hex') AS source_sha256, paths
			FROM samples_sources`,
			`CREATE VIEW jobs_hex AS SELECT
				encode(quick_sha256, 'hex') AS quick_sha256, id, repo, repo_path, location,
				encode(sha256, 'hex') AS sha256, status, error, files_extracted, files_loaded, new_files,
				errors, bytes, ms, imported_at
			FROM jobs`,
		},
	},
	{
		// Trust (issue 18): a source's status is its last job's (done,
		// partial or failed), and a link is failed when every path of the
		// sample in the source failed its own check. A sample is known
		// only through a link that is neither. Sources whose jobs failed
		// before this migration are failed: their errors were not told
		// apart then (hashr-scan --db retries them). The partial indexes
		// keep the failed few findable without reading every row.
		version: 3,
		sqlite: []string{
			`ALTER TABLE sources ADD COLUMN status TEXT NOT NULL DEFAULT 'done'`,
			`UPDATE sources SET status = 'failed' WHERE sha256 IN (SELECT sha256 FROM jobs WHERE status = 'failed')`,
			`CREATE INDEX sources_failed ON sources (sha256) WHERE status = 'failed'`,
			`ALTER TABLE samples_sources ADD COLUMN failed BOOLEAN NOT NULL DEFAULT false`,
			`CREATE INDEX samples_sources_failed ON samples_sources (source_sha256) WHERE failed`,
			`DROP VIEW sources_hex`,
			`CREATE VIEW sources_hex AS SELECT
				lower(hex(sha256)) AS sha256, ids, repo, repo_path, uri, format, size, mtime,
				lower(hex(quick_sha256)) AS quick_sha256, description, status
			FROM sources`,
			`DROP VIEW samples_sources_hex`,
			`CREATE VIEW samples_sources_hex AS SELECT
				lower(hex(sample_sha256)) AS sample_sha256, lower(hex(source_sha256)) AS source_sha256, paths, failed
			FROM samples_sources`,
		},
		postgres: []string{
			`ALTER TABLE sources ADD COLUMN status text NOT NULL DEFAULT 'done'`,
			`UPDATE sources SET status = 'failed' WHERE sha256 IN (SELECT sha256 FROM jobs WHERE status = 'failed')`,
			`CREATE INDEX sources_failed ON sources (sha256) WHERE status = 'failed'`,
			`ALTER TABLE samples_sources ADD COLUMN failed boolean NOT NULL DEFAULT false`,
			`CREATE INDEX samples_sources_failed ON samples_sources (source_sha256) WHERE failed`,
			`CREATE OR REPLACE VIEW sources_hex AS SELECT
				encode(sha256, 'hex') AS sha256, ids, repo, repo_path, uri, format, size, mtime,
				encode(quick_sha256, 'hex') AS quick_sha256, description, status
			FROM sources`,
			`CREATE OR REPLACE VIEW samples_sources_hex AS SELECT
				encode(sample_sha256, 'hex') AS sample_sha256, encode(source_sha256, 'hex') AS source_sha256, paths, failed
			FROM samples_sources`,
		},
	},
	{
		// Provenance (issue 22): the source record's package, as one JSON
		// object (records.Package), and its verified, as columns. package
		// keeps the record's object whole: which of its fields a source
		// has depends on its kind (a WIM's edition, a WSUS update's KB, an
		// OCI image's digest), a field added to the record reaches the
		// database with no migration, and the cost is small: one row a
		// package, and 64,000 Debian-like packages (name, version, arch,
		// maintainer) took 11.9 MB in SQLite as JSON against 9.1 MB as
		// four columns, 45 bytes a source, where each source brings
		// hundreds of samples rows.
		// verified is four columns because readers filter on verified_ok
		// (hashr-export --verified-only) in both databases' SQL alike.
		// NULL: the source record had none (loaded before, or --verify off).
		version: 4,
		sqlite: []string{
			`ALTER TABLE sources ADD COLUMN package TEXT`, // JSON object
			`ALTER TABLE sources ADD COLUMN verified_ok BOOLEAN`,
			`ALTER TABLE sources ADD COLUMN verified_by TEXT`,
			`ALTER TABLE sources ADD COLUMN verified_signer TEXT`,
			`ALTER TABLE sources ADD COLUMN verified_detail TEXT`,
			`DROP VIEW sources_hex`,
			`CREATE VIEW sources_hex AS SELECT
				lower(hex(sha256)) AS sha256, ids, repo, repo_path, uri, format, size, mtime,
				lower(hex(quick_sha256)) AS quick_sha256, description, status,
				package, verified_ok, verified_by, verified_signer, verified_detail
			FROM sources`,
		},
		postgres: []string{
			`ALTER TABLE sources ADD COLUMN package jsonb, ADD COLUMN verified_ok boolean, ADD COLUMN verified_by text,
				ADD COLUMN verified_signer text, ADD COLUMN verified_detail text`,
			`CREATE OR REPLACE VIEW sources_hex AS SELECT
				encode(sha256, 'hex') AS sha256, ids, repo, repo_path, uri, format, size, mtime,
				encode(quick_sha256, 'hex') AS quick_sha256, description, status,
				package, verified_ok, verified_by, verified_signer, verified_detail
			FROM sources`,
		},
	},
	{
		// A sample's links found by one bucket page (issue 20): the links'
		// primary key is a B-tree of 4 levels at 10M samples, and a lookup
		// (hashr-serve's, hashr-lookup's) descends it for every key. With a
		// hash index by sample, a bulk of 1,000 SHA-1s reads 4,032 buffers
		// rather than 7,031; the planner picks it unasked. SQLite's links
		// are a WITHOUT ROWID table clustered by sample already. IF NOT
		// EXISTS: the README offered this index, by this name, to a set's
		// owner before it was part of the schema.
		version: 5,
		postgres: []string{
			`CREATE INDEX IF NOT EXISTS samples_sources_sample_hash ON samples_sources USING hash (sample_sha256)`,
		},
	},
}

// SchemaVersion is the native schema version this hashr writes.
var SchemaVersion = nativeMigrations[len(nativeMigrations)-1].version

// oldestReadable is the oldest schema version readers read as it is:
// the migrations after it add indexes, which a reader can do without.
// A loader still migrates such a database the next time it opens it.
const oldestReadable = 4

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS hashr_schema_migrations (
	version integer PRIMARY KEY,
	applied_at text NOT NULL
)`
