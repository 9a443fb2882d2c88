package db

// HashR's PostgreSQL tables, column for column as HashR creates them
// (exporters/postgres/postgres.go for samples, payloads, sources and
// samples_sources; storage/postgres/postgres.go for jobs; see
// testdata/hashr_postgres_ddl.sql). Only IF NOT EXISTS is added, so an
// existing HashR database is used as it is. Digests are lowercase hex,
// as HashR writes them.
var hashrTables = []string{
	`CREATE TABLE IF NOT EXISTS samples (
		sha256 VARCHAR(100)  PRIMARY KEY,
		mimetype text,
		file_output  text,
		size INT
	)`,
	`CREATE TABLE IF NOT EXISTS payloads (
		sha256 VARCHAR(100)  PRIMARY KEY,
		payload bytea
	)`,
	`CREATE TABLE IF NOT EXISTS sources (
		sha256 VARCHAR(100)  PRIMARY KEY,
		sourceID  text[],
		sourcePath  text,
		sourceDescription text,
		repoName text,
		repoPath text
	)`,
	`CREATE TABLE IF NOT EXISTS samples_sources (
		sample_sha256 VARCHAR(100) REFERENCES samples(sha256) NOT NULL,
		source_sha256 VARCHAR(100) REFERENCES sources(sha256) NOT NULL,
		sample_paths text[],
		PRIMARY KEY (sample_sha256, source_sha256)
	)`,
	`CREATE TABLE IF NOT EXISTS jobs (
		quick_sha256 VARCHAR(100) PRIMARY KEY,
		imported_at INT NOT NULL,
		id text,
		repo text,
		repo_path text,
		location text,
		sha256 VARCHAR(100),
		status VARCHAR(50),
		error text,
		preprocessing_duration INT,
		processing_duration INT,
		export_duration INT,
		files_extracted INT,
		files_exported INT
	)`,
}

// hashrStatus is the status HashR's jobs table uses for ours: HashR calls
// a source that went all the way through "exported".
func hashrStatus(status string) string {
	if status == StatusDone {
		return "exported"
	}
	return status
}

// hashrDurations maps hashr's per-stage milliseconds to HashR's three
// phases, in whole seconds as HashR stores them: preprocessing (finding
// and fetching the source), processing (extracting and hashing its files)
// and export (deduplicating and loading them).
func hashrDurations(ms map[string]int64) (pre, proc, export int64) {
	for stage, v := range ms {
		switch stage {
		case "scan", "fetch":
			pre += v
		case "extract", "hash":
			proc += v
		default:
			export += v
		}
	}
	return pre / 1000, proc / 1000, export / 1000
}
