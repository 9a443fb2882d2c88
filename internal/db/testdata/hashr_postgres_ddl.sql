-- HashR's PostgreSQL schema, quoted verbatim as a test fixture: the tables
-- `hashr-load --schema hashr` must reproduce column for column.
--
-- From https://github.com/google/hashr (Apache License 2.0):
--   samples, payloads, sources, samples_sources:
--     exporters/postgres/postgres.go, NewExporter, commit 0b36a502e29ab8d160c4a16042a7ae0a3ea8326e
--   jobs:
--     storage/postgres/postgres.go, NewStorage, commit 031bd1b7367679dc2aea12da1b7bf22c3f19abe7
-- HashR runs each statement separately when its table does not exist.

CREATE TABLE samples (
				sha256 VARCHAR(100)  PRIMARY KEY,
				mimetype text,
				file_output  text,
				size INT
		  );

CREATE TABLE payloads (
				sha256 VARCHAR(100)  PRIMARY KEY,
				payload bytea
		  );

CREATE TABLE sources (
			sha256 VARCHAR(100)  PRIMARY KEY,
			sourceID  text[],
			sourcePath  text,
			sourceDescription text,
			repoName text,
			repoPath text
		  );

CREATE TABLE samples_sources (
			sample_sha256 VARCHAR(100) REFERENCES samples(sha256) NOT NULL,
			source_sha256 VARCHAR(100) REFERENCES sources(sha256) NOT NULL,
			sample_paths text[],
			PRIMARY KEY (sample_sha256, source_sha256)
		  );

CREATE TABLE jobs (
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
	  );
