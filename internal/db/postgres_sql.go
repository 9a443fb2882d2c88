package db

import "fmt"

// A batch of sources reaches PostgreSQL as COPY into session-local staging
// tables, then one set-based upsert per table. Every upsert inserts in key
// order, so loaders working at once on overlapping samples take their row
// locks in the same order and do not deadlock; rows that already hold
// what a batch brings are not rewritten, so loading twice changes nothing.
// Paths and IDs are merged as sorted distinct sets in byte order
// (COLLATE "C"), the order Go and SQLite use too.

const pgCreateStaging = `
CREATE TEMP TABLE IF NOT EXISTS hashr_stage_sources (
	seq integer NOT NULL,
	sha256 bytea,
	id text COLLATE "C",
	repo text,
	repo_path text,
	uri text,
	format text,
	size bigint,
	mtime timestamptz,
	quick_sha256 bytea,
	description text,
	status text NOT NULL,
	error text,
	files_extracted bigint,
	files_loaded bigint,
	new_files bigint,
	errors bigint,
	bytes bigint,
	ms jsonb,
	pre_seconds bigint,
	proc_seconds bigint,
	export_seconds bigint,
	package jsonb,
	verified_ok boolean,
	verified_by text,
	verified_signer text,
	verified_detail text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS hashr_stage_files (
	seq bigint NOT NULL,
	source bytea NOT NULL,
	sha256 bytea NOT NULL,
	md5 bytea,
	sha1 bytea,
	sha512 bytea,
	crc32 bytea,
	blake3 bytea,
	ssdeep text,
	tlsh text,
	size bigint,
	mime text,
	path text COLLATE "C" NOT NULL,
	local text,
	failed boolean NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS hashr_stage_links (
	sha256 bytea NOT NULL,
	source bytea NOT NULL,
	first boolean NOT NULL,
	md5 bytea,
	sha1 bytea,
	sha512 bytea,
	crc32 bytea,
	blake3 bytea,
	ssdeep text,
	tlsh text,
	size bigint,
	mime text,
	paths text[] NOT NULL,
	local text,
	failed boolean NOT NULL,
	failed_paths text[] NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS hashr_stage_gone (
	sha256 text NOT NULL
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS hashr_stage_payloads (
	sha256 bytea NOT NULL,
	payload bytea NOT NULL
) ON COMMIT DELETE ROWS`

var stageSourceColumns = []string{"seq", "sha256", "id", "repo", "repo_path", "uri", "format", "size", "mtime",
	"quick_sha256", "description", "status", "error", "files_extracted", "files_loaded", "new_files", "errors", "bytes",
	"ms", "pre_seconds", "proc_seconds", "export_seconds",
	"package", "verified_ok", "verified_by", "verified_signer", "verified_detail"}

var stageFileColumns = []string{"seq", "source", "sha256", "md5", "sha1", "sha512", "crc32", "blake3", "ssdeep",
	"tlsh", "size", "mime", "path", "local", "failed"}

// stageLinkColumns are hashr_stage_links': a batch sorted and grouped by
// the loader (sortedFiles), one row per sample and source with the paths
// of the sample in the source; first marks a sample's first row, which
// alone carries its digests; failed_paths are those of paths that are
// failed members. The database then only inserts.
var stageLinkColumns = []string{"sha256", "source", "first", "md5", "sha1", "sha512", "crc32", "blake3", "ssdeep",
	"tlsh", "size", "mime", "paths", "local", "failed", "failed_paths"}

// pgStatements are the upserts of one schema, run in this order. samples,
// paths and missingPayloads read hashr_stage_files, which the database
// sorts and groups; their link* twins read hashr_stage_links, grouped by
// the loader.
type pgStatements struct {
	sources string
	samples string // returns the number of new samples
	paths   string
	jobs    string
	// missingPayloads lists the staged samples without a payload:
	// sha256, local, size, path, source.
	missingPayloads string
	payloads        string // run after samples: it may keep to theirs
	// purge runs after sources, before samples: it removes what the
	// batch shows was read under a failed check (HashR's layout, which
	// cannot mark it). cleanup runs after paths.
	purge   []string
	cleanup string
	// distrust runs first: it fails the links a failed source's re-run
	// does not bring (native schema).
	distrust string

	linkSamples, linkPaths, linkMissingPayloads string
}

// The sorted distinct IDs of each staged source, and its first record.
const pgStagedSources = `
WITH ids AS (
	SELECT sha256, coalesce(array_agg(DISTINCT id ORDER BY id) FILTER (WHERE id IS NOT NULL), '{}') AS ids
	FROM hashr_stage_sources WHERE sha256 IS NOT NULL GROUP BY sha256
), firsts AS (
	SELECT DISTINCT ON (sha256) * FROM hashr_stage_sources WHERE sha256 IS NOT NULL ORDER BY sha256, seq
)`

const pgMissingPayloads = `
SELECT DISTINCT ON (f.sha256) f.sha256, f.local, f.size, f.path, f.source
FROM hashr_stage_files f
WHERE NOT EXISTS (SELECT 1 FROM payloads p WHERE p.sha256 = %s)
ORDER BY f.sha256, f.seq`

const pgMissingLinkPayloads = `
SELECT l.sha256, l.local, l.size, l.paths[1], l.source
FROM hashr_stage_links l
WHERE l.first AND NOT EXISTS (SELECT 1 FROM payloads p WHERE p.sha256 = %s)`

// pgNativeSamples inserts the samples a SELECT gives, and counts the new ones.
func pgNativeSamples(selectSamples string) string {
	return `
WITH ins AS (
	INSERT INTO samples AS s (sha256, md5, sha1, sha512, crc32, blake3, ssdeep, tlsh, size, mime)` + selectSamples + `
	ON CONFLICT (sha256) DO UPDATE SET
		md5 = coalesce(s.md5, EXCLUDED.md5), sha1 = coalesce(s.sha1, EXCLUDED.sha1),
		sha512 = coalesce(s.sha512, EXCLUDED.sha512), crc32 = coalesce(s.crc32, EXCLUDED.crc32),
		blake3 = coalesce(s.blake3, EXCLUDED.blake3), ssdeep = coalesce(s.ssdeep, EXCLUDED.ssdeep),
		tlsh = coalesce(s.tlsh, EXCLUDED.tlsh), size = coalesce(s.size, EXCLUDED.size),
		mime = coalesce(s.mime, EXCLUDED.mime)
	-- a sample seen before gains only the digests it lacked (a later run's --algos)
	WHERE s.md5 IS NULL AND EXCLUDED.md5 IS NOT NULL OR s.sha1 IS NULL AND EXCLUDED.sha1 IS NOT NULL
		OR s.sha512 IS NULL AND EXCLUDED.sha512 IS NOT NULL OR s.crc32 IS NULL AND EXCLUDED.crc32 IS NOT NULL
		OR s.blake3 IS NULL AND EXCLUDED.blake3 IS NOT NULL OR s.ssdeep IS NULL AND EXCLUDED.ssdeep IS NOT NULL
		OR s.tlsh IS NULL AND EXCLUDED.tlsh IS NOT NULL OR s.size IS NULL AND EXCLUDED.size IS NOT NULL
		OR s.mime IS NULL AND EXCLUDED.mime IS NOT NULL
	RETURNING xmax = 0 AS fresh -- xmax is 0 for a row this statement inserted
)
SELECT count(*) FILTER (WHERE fresh) FROM ins`
}

// pgNativePaths inserts the sample, source, paths, failed rows a SELECT
// gives. A link is failed when every path of the sample in the source is
// a failed member; the last load of the source decides.
func pgNativePaths(selectLinks string) string {
	return `
INSERT INTO samples_sources AS r (sample_sha256, source_sha256, paths, failed)` + selectLinks + `
ON CONFLICT (sample_sha256, source_sha256) DO UPDATE
	SET paths = ARRAY(SELECT DISTINCT x COLLATE "C" FROM unnest(r.paths || EXCLUDED.paths) AS u(x) ORDER BY 1),
		failed = EXCLUDED.failed
	WHERE NOT (EXCLUDED.paths <@ r.paths) OR r.failed <> EXCLUDED.failed`
}

// pgNativeSources upserts the staged sources. Of a source staged twice in
// a batch, its package is the last one brought and its verified the last
// ok one, else the last one: what loading them one by one leaves
// (provenanceUpdate).
var pgNativeSources = func() string {
	setProvenance, provenanceChanged := provenanceUpdate("s", "EXCLUDED", "IS DISTINCT FROM")
	return pgStagedSources + `, lasts AS ( -- a source's status is its last load's
	SELECT DISTINCT ON (sha256) sha256, status FROM hashr_stage_sources WHERE sha256 IS NOT NULL ORDER BY sha256, seq DESC
), pkgs AS (
	SELECT DISTINCT ON (sha256) sha256, package FROM hashr_stage_sources
	WHERE sha256 IS NOT NULL AND package IS NOT NULL ORDER BY sha256, seq DESC
), vers AS (
	SELECT DISTINCT ON (sha256) sha256, verified_ok, verified_by, verified_signer, verified_detail FROM hashr_stage_sources
	WHERE sha256 IS NOT NULL AND verified_ok IS NOT NULL ORDER BY sha256, verified_ok DESC, seq DESC
)
INSERT INTO sources AS s (sha256, ids, repo, repo_path, uri, format, size, mtime, quick_sha256, description, status,
	package, verified_ok, verified_by, verified_signer, verified_detail)
SELECT f.sha256, i.ids, f.repo, f.repo_path, f.uri, f.format, f.size, f.mtime, f.quick_sha256, f.description, t.status,
	p.package, v.verified_ok, v.verified_by, v.verified_signer, v.verified_detail
FROM firsts f JOIN ids i USING (sha256) JOIN lasts t USING (sha256)
	LEFT JOIN pkgs p USING (sha256) LEFT JOIN vers v USING (sha256) ORDER BY f.sha256
ON CONFLICT (sha256) DO UPDATE
	SET ids = ARRAY(SELECT DISTINCT x COLLATE "C" FROM unnest(s.ids || EXCLUDED.ids) AS u(x) ORDER BY 1),
		status = EXCLUDED.status, ` + setProvenance + `
	WHERE NOT (EXCLUDED.ids <@ s.ids) OR s.status <> EXCLUDED.status OR ` + provenanceChanged
}()

var pgNative = pgStatements{
	distrust: pgDistrustLeftovers,
	sources:  pgNativeSources,

	samples: pgNativeSamples(`
	SELECT DISTINCT ON (sha256) sha256, md5, sha1, sha512, crc32, blake3, ssdeep, tlsh, size, mime
	FROM hashr_stage_files ORDER BY sha256, seq`),
	linkSamples: pgNativeSamples(`
	SELECT sha256, md5, sha1, sha512, crc32, blake3, ssdeep, tlsh, size, mime FROM hashr_stage_links WHERE first`),

	paths: pgNativePaths(`
SELECT sha256, source, array_agg(DISTINCT path ORDER BY path), bool_and(failed)
FROM hashr_stage_files GROUP BY sha256, source ORDER BY sha256, source`),
	linkPaths: pgNativePaths(`
SELECT sha256, source, paths, failed FROM hashr_stage_links`),

	jobs: `
INSERT INTO jobs AS j (quick_sha256, id, repo, repo_path, location, sha256, status, error,
	files_extracted, files_loaded, new_files, errors, bytes, ms, imported_at)
SELECT DISTINCT ON (quick_sha256) quick_sha256, id, repo, repo_path, uri, sha256, status, error,
	files_extracted, files_loaded, new_files, errors, bytes, ms, now()
FROM hashr_stage_sources WHERE quick_sha256 IS NOT NULL ORDER BY quick_sha256, seq DESC
ON CONFLICT (quick_sha256) DO UPDATE SET id = EXCLUDED.id, repo = EXCLUDED.repo, repo_path = EXCLUDED.repo_path,
	location = EXCLUDED.location, sha256 = EXCLUDED.sha256, status = EXCLUDED.status, error = EXCLUDED.error,
	files_extracted = EXCLUDED.files_extracted, files_loaded = EXCLUDED.files_loaded, new_files = EXCLUDED.new_files,
	errors = EXCLUDED.errors, bytes = EXCLUDED.bytes, ms = EXCLUDED.ms, imported_at = EXCLUDED.imported_at
	-- rewritten only when more than the time changed
	WHERE (j.id, j.repo, j.repo_path, j.location, j.sha256, j.status, j.error, j.files_extracted, j.files_loaded,
		j.new_files, j.errors, j.bytes, j.ms)
		IS DISTINCT FROM (EXCLUDED.id, EXCLUDED.repo, EXCLUDED.repo_path, EXCLUDED.location, EXCLUDED.sha256,
		EXCLUDED.status, EXCLUDED.error, EXCLUDED.files_extracted, EXCLUDED.files_loaded, EXCLUDED.new_files,
		EXCLUDED.errors, EXCLUDED.bytes, EXCLUDED.ms)`,

	missingPayloads:     fmt.Sprintf(pgMissingPayloads, "f.sha256"),
	linkMissingPayloads: fmt.Sprintf(pgMissingLinkPayloads, "l.sha256"),
	payloads: `
INSERT INTO payloads (sha256, payload)
SELECT DISTINCT ON (sha256) sha256, payload FROM hashr_stage_payloads ORDER BY sha256
ON CONFLICT (sha256) DO NOTHING`,
}

// pgDistrustLeftovers fails the links of failed sources that a successful
// re-run in this batch did not bring: bytes read under the check that
// failed, which the re-run found otherwise. Run before the sources'
// statuses are updated; the batch's files are in one of the two staging
// tables, the other is empty.
//
// Only a failed source's leftovers are re-checked, by design. A partial
// run's links are as trusted as a done run's: their members passed their
// own checks, and a failed member's links are failed already. That a
// later run of the same bytes (same sha256) does not bring a sample is no
// evidence against it (another hashr version, other --max-depth or size
// limits read other members), so as after done runs, links stay as
// they were; only a check that failed withdraws trust.
const pgDistrustLeftovers = `
UPDATE samples_sources r SET failed = true
FROM sources s
WHERE s.status = 'failed' AND r.source_sha256 = s.sha256 AND NOT r.failed
	AND s.sha256 IN (SELECT sha256 FROM hashr_stage_sources WHERE sha256 IS NOT NULL AND status <> 'failed')
	AND NOT EXISTS (SELECT 1 FROM hashr_stage_files f WHERE f.source = r.source_sha256 AND f.sha256 = r.sample_sha256)
	AND NOT EXISTS (SELECT 1 FROM hashr_stage_links k WHERE k.source = r.source_sha256 AND k.sha256 = r.sample_sha256)`

// HashR's tables hold hex digests, one path array per sample and source,
// and sizes as 32-bit INT (a larger size is left NULL). file_output, the
// output of file(1) that HashR stores, is left NULL: hashr records the
// MIME type instead.
//
// They have no column to mark a sample read under a check that failed,
// and HashR's consumers read them as they are: whatever they hold is
// known. So in HashR's layout a suspect file row (a failed member, or any
// row of a source whose last staged status is failed) is not written, and
// what an earlier run wrote is removed when the batch shows it read under
// a failed check (purge): all the links of a failed source, the paths of
// failed members, and the samples and payloads left with no link. A
// sample another source vouches for keeps that link, and so stays.

// pgHashRFailedSources are the staged sources whose last load failed.
const pgHashRFailedSources = `(SELECT sha256 FROM (SELECT DISTINCT ON (sha256) sha256, status FROM hashr_stage_sources
	WHERE sha256 IS NOT NULL ORDER BY sha256, seq DESC) t WHERE t.status = 'failed')`

// pgHashRTrustedFiles and pgHashRTrustedLinks select the staged rows that
// are not suspect; a link's trusted paths are those not failed.
const (
	pgHashRTrustedFiles = ` WHERE NOT failed AND source NOT IN ` + pgHashRFailedSources
	pgHashRTrustedLinks = ` cardinality(failed_paths) < cardinality(paths) AND source NOT IN ` + pgHashRFailedSources
	pgHashRLinkPaths    = `ARRAY(SELECT x FROM unnest(paths) AS u(x) WHERE x <> ALL(failed_paths) ORDER BY x COLLATE "C")`
)

// pgHashRFailedPaths are the staged failed members' paths, a row per
// sample and source (in the staging table the batch uses).
const pgHashRFailedPaths = `WITH bad AS (
	SELECT encode(sha256, 'hex') AS sample, encode(source, 'hex') AS source, array_agg(path COLLATE "default") AS paths
	FROM hashr_stage_files WHERE failed GROUP BY sha256, source
	UNION ALL
	SELECT encode(sha256, 'hex'), encode(source, 'hex'), failed_paths FROM hashr_stage_links WHERE cardinality(failed_paths) > 0
)`

var pgHashRPurge = []string{
	// Every link of a source whose load failed.
	`WITH gone AS (
	DELETE FROM samples_sources r WHERE r.source_sha256 IN (SELECT encode(sha256, 'hex') FROM ` + pgHashRFailedSources + ` f)
	RETURNING r.sample_sha256
)
INSERT INTO hashr_stage_gone SELECT sample_sha256 FROM gone`,
	// The links an earlier, failed job of the same file left (written by a
	// hashr-load that did not leave them out) that this re-run does not
	// bring: bytes only the failed run read. An earlier partial job's are
	// kept, as in hashr's layout (see pgDistrustLeftovers).
	`WITH gone AS (
	DELETE FROM samples_sources r
	USING hashr_stage_sources s JOIN jobs j ON j.quick_sha256 = encode(s.quick_sha256, 'hex') AND j.status = 'failed'
	WHERE r.source_sha256 = encode(s.sha256, 'hex')
		AND NOT EXISTS (SELECT 1 FROM hashr_stage_files f WHERE f.source = s.sha256 AND encode(f.sha256, 'hex') = r.sample_sha256)
		AND NOT EXISTS (SELECT 1 FROM hashr_stage_links k WHERE k.source = s.sha256 AND encode(k.sha256, 'hex') = r.sample_sha256)
	RETURNING r.sample_sha256
)
INSERT INTO hashr_stage_gone SELECT sample_sha256 FROM gone`,
	// The links whose every path is now a failed member...
	pgHashRFailedPaths + `, gone AS (
	DELETE FROM samples_sources r USING bad b
	WHERE r.sample_sha256 = b.sample AND r.source_sha256 = b.source AND coalesce(r.sample_paths, '{}') <@ b.paths
	RETURNING r.sample_sha256
)
INSERT INTO hashr_stage_gone SELECT sample_sha256 FROM gone`,
	// ...and the failed members' paths of the others.
	pgHashRFailedPaths + `
UPDATE samples_sources r
SET sample_paths = ARRAY(SELECT x FROM unnest(r.sample_paths) AS u(x) WHERE x <> ALL(b.paths) ORDER BY x COLLATE "C")
FROM bad b WHERE r.sample_sha256 = b.sample AND r.source_sha256 = b.source AND r.sample_paths && b.paths`,
}

// pgHashRCleanup removes the samples the purge left with no link, and
// their payloads.
const pgHashRCleanup = `
WITH orphans AS (
	DELETE FROM samples s WHERE s.sha256 IN (SELECT sha256 FROM hashr_stage_gone)
		AND NOT EXISTS (SELECT 1 FROM samples_sources r WHERE r.sample_sha256 = s.sha256)
	RETURNING s.sha256
)
DELETE FROM payloads p USING orphans o WHERE p.sha256 = o.sha256`

// pgHashRSamples inserts the samples a SELECT gives, and counts them.
func pgHashRSamples(selectSamples string) string {
	return `
WITH ins AS (
	INSERT INTO samples (sha256, mimetype, file_output, size)` + selectSamples + `
	ON CONFLICT (sha256) DO NOTHING
	RETURNING 1
)
SELECT count(*) FROM ins`
}

// pgHashRPaths inserts the sample, source, paths rows a SELECT gives.
func pgHashRPaths(selectLinks string) string {
	return `
INSERT INTO samples_sources AS r (sample_sha256, source_sha256, sample_paths)` + selectLinks + `
ON CONFLICT (sample_sha256, source_sha256) DO UPDATE
	SET sample_paths = ARRAY(SELECT DISTINCT x COLLATE "C" FROM unnest(coalesce(r.sample_paths, '{}') || EXCLUDED.sample_paths) AS u(x) ORDER BY 1)
	WHERE NOT (EXCLUDED.sample_paths <@ coalesce(r.sample_paths, '{}'))`
}

var pgHashR = pgStatements{
	sources: pgStagedSources + `
INSERT INTO sources AS s (sha256, sourceid, sourcepath, sourcedescription, reponame, repopath)
SELECT encode(f.sha256, 'hex'), i.ids, f.uri, f.description, f.repo, f.repo_path
FROM firsts f JOIN ids i USING (sha256) ORDER BY 1
ON CONFLICT (sha256) DO UPDATE
	SET sourceid = ARRAY(SELECT DISTINCT x COLLATE "C" FROM unnest(coalesce(s.sourceid, '{}') || EXCLUDED.sourceid) AS u(x) ORDER BY 1)
	WHERE NOT (EXCLUDED.sourceid <@ coalesce(s.sourceid, '{}'))`,

	samples: pgHashRSamples(`
	SELECT DISTINCT ON (sha256) encode(sha256, 'hex'), mime, NULL,
		CASE WHEN size BETWEEN 0 AND 2147483647 THEN size::int END
	FROM hashr_stage_files` + pgHashRTrustedFiles + ` ORDER BY sha256, seq`),
	// A sample's first row carries its digests, whichever link is trusted.
	linkSamples: pgHashRSamples(`
	SELECT encode(l.sha256, 'hex'), l.mime, NULL, CASE WHEN l.size BETWEEN 0 AND 2147483647 THEN l.size::int END
	FROM hashr_stage_links l
	WHERE l.first AND l.sha256 IN (SELECT sha256 FROM hashr_stage_links WHERE` + pgHashRTrustedLinks + `)`),

	paths: pgHashRPaths(`
SELECT encode(sha256, 'hex'), encode(source, 'hex'), array_agg(DISTINCT path ORDER BY path)
FROM hashr_stage_files` + pgHashRTrustedFiles + ` GROUP BY sha256, source ORDER BY sha256, source`),
	linkPaths: pgHashRPaths(`
SELECT encode(sha256, 'hex'), encode(source, 'hex'), ` + pgHashRLinkPaths + `
FROM hashr_stage_links WHERE` + pgHashRTrustedLinks),
	purge:   pgHashRPurge,
	cleanup: pgHashRCleanup,

	jobs: `
INSERT INTO jobs AS j (quick_sha256, imported_at, id, repo, repo_path, location, sha256, status, error,
	preprocessing_duration, processing_duration, export_duration, files_extracted, files_exported)
SELECT DISTINCT ON (quick_sha256) encode(quick_sha256, 'hex'), extract(epoch FROM now())::int, id, repo, repo_path,
	uri, encode(sha256, 'hex'), status, error, least(pre_seconds, 2147483647), least(proc_seconds, 2147483647),
	least(export_seconds, 2147483647), least(files_extracted, 2147483647), least(new_files, 2147483647)
FROM hashr_stage_sources WHERE quick_sha256 IS NOT NULL ORDER BY quick_sha256, seq DESC
ON CONFLICT (quick_sha256) DO UPDATE SET imported_at = EXCLUDED.imported_at, id = EXCLUDED.id, repo = EXCLUDED.repo,
	repo_path = EXCLUDED.repo_path, location = EXCLUDED.location, sha256 = EXCLUDED.sha256, status = EXCLUDED.status,
	error = EXCLUDED.error, preprocessing_duration = EXCLUDED.preprocessing_duration,
	processing_duration = EXCLUDED.processing_duration, export_duration = EXCLUDED.export_duration,
	files_extracted = EXCLUDED.files_extracted, files_exported = EXCLUDED.files_exported
	WHERE (j.id, j.repo, j.repo_path, j.location, j.sha256, j.status, j.error, j.preprocessing_duration,
		j.processing_duration, j.export_duration, j.files_extracted, j.files_exported)
		IS DISTINCT FROM (EXCLUDED.id, EXCLUDED.repo, EXCLUDED.repo_path, EXCLUDED.location, EXCLUDED.sha256,
		EXCLUDED.status, EXCLUDED.error, EXCLUDED.preprocessing_duration, EXCLUDED.processing_duration,
		EXCLUDED.export_duration, EXCLUDED.files_extracted, EXCLUDED.files_exported)`,

	missingPayloads:     fmt.Sprintf(pgMissingPayloads, "encode(f.sha256, 'hex')"),
	linkMissingPayloads: fmt.Sprintf(pgMissingLinkPayloads, "encode(l.sha256, 'hex')"),
	// Only the samples written, or held before, get their payloads.
	payloads: `
INSERT INTO payloads (sha256, payload)
SELECT DISTINCT ON (p.sha256) encode(p.sha256, 'hex'), p.payload FROM hashr_stage_payloads p
WHERE EXISTS (SELECT 1 FROM samples s WHERE s.sha256 = encode(p.sha256, 'hex')) ORDER BY p.sha256
ON CONFLICT (sha256) DO NOTHING`,
}
