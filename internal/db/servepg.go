package db

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
)

// serveSamplesPG runs serveSamples' statement (serveSamplesQuery's, keys
// its one parameter) on PostgreSQL through
// pgx's own interface, on a connection of the reader's pool. Through
// database/sql every column of every row became a driver.Value (each
// bytea copied by pgx, then again into the Scan target, each int64
// boxed) and was converted by reflection: a quarter of hashr-serve's
// CPU for a bulk of 1,000. The rows are read from pgx's raw values by
// servedRowDecoder.
func (r *Reader) serveSamplesPG(ctx context.Context, query string, keys [][]byte, into *servedRows) error {
	conn, err := r.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		pc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("a PostgreSQL connection of type %T, not pgx's", driverConn)
		}
		// The statement is prepared once per connection, and its plan
		// kept (pgx's statement cache, its default).
		var arg any = keys // serveSamplesQuery's one parameter: the keys, or the one key
		if len(keys) == 1 {
			arg = keys[0]
		}
		rows, err := pc.Conn().Query(ctx, query, arg)
		if err != nil {
			return err
		}
		defer rows.Close()
		if err := checkServedColumns(rows.FieldDescriptions()); err != nil {
			return err
		}
		dec := servedRowDecoder{pathsJSON: rows.FieldDescriptions()[servedPaths].DataTypeOID == oidText}
		for rows.Next() {
			row, key, snapshot, err := dec.decode(rows.RawValues())
			if err != nil {
				return err
			}
			into.add(row, key, snapshot)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return r.cappedServedLinks(ctx, pc.Conn(), into.samples)
	})
}

// cappedServedLinks sets the LinkTotal of the samples whose statement
// gave none (serveSamplesLateral's), leaving each with at most
// MaxServedLinks links, its first by source: those read are all of a
// sample's when they are no more than that; else the statement read some
// of them in no order, and a second statement reads the sample's first
// MaxServedLinks by source and counts them all, in a snapshot of its own.
// A load committed in between may have changed them, as it may the
// sources (servedSources).
func (r *Reader) cappedServedLinks(ctx context.Context, conn *pgx.Conn, samples map[string]*ServedSample) error {
	var capped [][]byte
	for _, s := range samples {
		switch {
		case s.LinkTotal >= 0:
		case len(s.Links) <= MaxServedLinks:
			s.LinkTotal = int64(len(s.Links))
		default:
			s.Links, s.LinkTotal = nil, 0 // read again, in order
			capped = append(capped, s.SHA256)
		}
	}
	if len(capped) == 0 {
		return nil
	}
	failed := func(err error) error {
		return fmt.Errorf("reading the first links of %d samples in more than %d sources: %w", len(capped), MaxServedLinks, err)
	}
	// The count once a sample (a lateral subquery of its own), not once a
	// link read.
	rows, err := conn.Query(ctx, `SELECT k.sample, l.source_sha256, l.paths, l.failed, c.total
		FROM unnest($1::bytea[]) AS k(sample)
		CROSS JOIN LATERAL (SELECT count(*) AS total FROM samples_sources l
			WHERE l.sample_sha256 = k.sample AND `+r.servedLinkTrusted()+`) c
		CROSS JOIN LATERAL (SELECT l.source_sha256, l.paths, l.failed
			FROM samples_sources l
			WHERE l.sample_sha256 = k.sample AND `+r.servedLinkTrusted()+`
			ORDER BY l.source_sha256 LIMIT `+strconv.Itoa(MaxServedLinks)+`) l`, capped)
	if err != nil {
		return failed(err)
	}
	defer rows.Close()
	for rows.Next() {
		var sha []byte
		var link ServedLink
		var total int64
		if err := rows.Scan(&sha, &link.Source.SHA256, &link.Paths, &link.Failed, &total); err != nil {
			return failed(err)
		}
		if s := samples[string(sha)]; s != nil {
			s.Links = append(s.Links, link)
			s.LinkTotal = total
		}
	}
	if err := rows.Err(); err != nil {
		return failed(err)
	}
	return nil
}

// PostgreSQL's type OIDs of serveSamples' columns.
const (
	oidBool      = 16
	oidBytea     = 17
	oidInt8      = 20
	oidText      = 25
	oidTextArray = 1009
)

// servedColumnTypes are the types of serveSamples' columns in
// PostgreSQL, in order: sha256, md5, sha1, sha512, crc32, blake3,
// ssdeep, tlsh, size, mime, source_sha256, paths, failed, snapshot,
// link_total. paths is text[] where the statement sends the column as
// it is, text (a JSON array) where it is array_to_json's (Citus).
var servedColumnTypes = [...]uint32{oidBytea, oidBytea, oidBytea, oidBytea, oidBytea, oidBytea,
	oidText, oidText, oidInt8, oidText, oidBytea, oidTextArray, oidBool, oidText, oidInt8}

// checkServedColumns checks that serveSamples' rows come as
// servedRowDecoder reads them: each column of its type, and binary
// where the text format would differ (pgx asks bytea, int8, bool and
// arrays in binary; text is the same bytes either way).
func checkServedColumns(fields []pgconn.FieldDescription) error {
	if len(fields) != len(servedColumnTypes) {
		return fmt.Errorf("the samples statement gave %d columns, want %d", len(fields), len(servedColumnTypes))
	}
	for i, f := range fields {
		want := servedColumnTypes[i]
		if i == servedPaths && f.DataTypeOID == oidText {
			want = oidText
		}
		if f.DataTypeOID != want || (want != oidText && f.Format != pgtype.BinaryFormatCode) {
			return fmt.Errorf("column %d (%s) of the samples statement is of type %d in format %d, want type %d in binary",
				i+1, f.Name, f.DataTypeOID, f.Format, want)
		}
	}
	return nil
}

// servedPaths is the position of paths among serveSamples' columns.
const servedPaths = 11

// servedRowDecoder reads serveSamples' rows from pgx's raw values: a
// row's digests are cut from one block of bytes shared by many rows,
// its strings from one string a row, its sample, link and paths from
// blocks of each. Scanned column by column, each bytea and each string
// was an allocation of its own and pgx ran a scan plan per column:
// about 14 allocations a row, where these take one and a share of the
// blocks.
type servedRowDecoder struct {
	pathsJSON bool           // paths come as a JSON array (text), not a text[]
	digests   []byte         // the unused rest of the current block of digests
	samples   []ServedSample // the unused rest of the current block of samples
	links     []ServedLink   // of links
	paths     []string       // of paths
	text      []byte         // the row's strings, gathered before they are made one string
	ends      []int          // where each path ends in text
	mime      string         // the last row's MIME type: most rows repeat it
}

// servedBlock is how many samples, links or paths a block holds.
const servedBlock = 64

// decode reads one row: the sample it may start (with its one link),
// the sample's SHA-256 as a string (the key servedRows keeps it by), and
// the row's snapshot text, valid until the next row.
func (d *servedRowDecoder) decode(vals [][]byte) (row *ServedSample, key string, snapshot []byte, err error) {
	if len(d.samples) == 0 {
		d.samples, d.links = make([]ServedSample, servedBlock), make([]ServedLink, servedBlock)
	}
	row, l := &d.samples[0], &d.links[0]
	row.Links = d.links[:1:1] // a second link of the sample is appended to an array of its own
	d.samples, d.links = d.samples[1:], d.links[1:]
	s := &row.Sample

	n := 0
	for _, i := range [...]int{0, 1, 2, 3, 4, 5, 10} {
		n += len(vals[i])
	}
	if len(d.digests) < n {
		d.digests = make([]byte, max(n, 8<<10))
	}
	s.SHA256, s.MD5, s.SHA1 = d.digest(vals[0]), d.digest(vals[1]), d.digest(vals[2])
	s.SHA512, s.CRC32, s.BLAKE3 = d.digest(vals[3]), d.digest(vals[4]), d.digest(vals[5])
	l.Source.SHA256 = d.digest(vals[10])

	if err := readServedScalars(vals, row); err != nil {
		return nil, "", nil, err
	}
	if d.mime != string(vals[9]) {
		d.mime = string(vals[9])
	}
	s.MIME = d.mime

	// The row's other strings share one allocation: the sample's SHA-256
	// (its key), ssdeep, tlsh and the paths.
	d.text = append(append(append(d.text[:0], vals[0]...), vals[6]...), vals[7]...)
	d.ends = d.ends[:0]
	if d.pathsJSON {
		err = decodeArray(sql.NullString{String: string(vals[servedPaths]), Valid: vals[servedPaths] != nil}, &l.Paths)
	} else {
		d.text, d.ends, err = appendTextArray(d.text, d.ends, vals[servedPaths])
	}
	if err != nil {
		return nil, "", nil, fmt.Errorf("paths of sample %x in source %x: %w", s.SHA256, l.Source.SHA256, err)
	}
	text := string(d.text)
	at := len(vals[0])
	key = text[:at]
	s.SSDEEP, at = text[at:at+len(vals[6])], at+len(vals[6])
	s.TLSH, at = text[at:at+len(vals[7])], at+len(vals[7])
	if !d.pathsJSON {
		if len(d.paths) < len(d.ends) {
			d.paths = make([]string, max(len(d.ends), servedBlock))
		}
		l.Paths, d.paths = d.paths[:len(d.ends):len(d.ends)], d.paths[len(d.ends):]
		for i, end := range d.ends {
			l.Paths[i], at = text[at:end], end
		}
	}
	return row, key, vals[13], nil
}

// readServedScalars reads a row's size, failed and link count (NULL:
// cappedServedLinks counts them) from their binary forms.
func readServedScalars(vals [][]byte, row *ServedSample) error {
	s, l := &row.Sample, &row.Links[0]
	s.Size = -1
	if vals[8] != nil {
		if len(vals[8]) != 8 {
			return fmt.Errorf("size of sample %x: %d bytes, want an int8's 8", s.SHA256, len(vals[8]))
		}
		s.Size = int64(binary.BigEndian.Uint64(vals[8]))
	}
	if len(vals[12]) != 1 {
		return fmt.Errorf("failed of sample %x in source %x: %d bytes, want a bool's 1", s.SHA256, l.Source.SHA256, len(vals[12]))
	}
	l.Failed = vals[12][0] != 0
	row.LinkTotal = -1
	if vals[14] != nil {
		if len(vals[14]) != 8 {
			return fmt.Errorf("link count of sample %x: %d bytes, want an int8's 8", s.SHA256, len(vals[14]))
		}
		row.LinkTotal = int64(binary.BigEndian.Uint64(vals[14]))
	}
	return nil
}

// digest copies a bytea's value into the block of digests (nil for
// NULL); decode has made room for the row's.
func (d *servedRowDecoder) digest(v []byte) []byte {
	if v == nil {
		return nil
	}
	out := d.digests[:len(v):len(v)]
	copy(out, v)
	d.digests = d.digests[len(v):]
	return out
}

// appendTextArray appends the elements of a one-dimensional text[] in
// PostgreSQL's binary format (array_send's: the number of dimensions,
// a has-nulls flag, the element type, each dimension's length and lower
// bound, then each element's length, -1 for NULL, and bytes) to text,
// and where each ends to ends. A NULL element is an empty string, as
// array_to_json's null read into a string is. An empty array has no
// dimensions.
func appendTextArray(text []byte, ends []int, v []byte) ([]byte, []int, error) {
	if len(v) < 12 {
		return text, ends, fmt.Errorf("a text[] of %d bytes, shorter than its header", len(v))
	}
	ndim := binary.BigEndian.Uint32(v)
	if ndim == 0 {
		return text, ends, nil
	}
	if ndim != 1 || len(v) < 20 {
		return text, ends, fmt.Errorf("a text[] of %d dimensions in %d bytes, want one dimension", int32(ndim), len(v))
	}
	if elem := binary.BigEndian.Uint32(v[8:]); elem != oidText {
		return text, ends, fmt.Errorf("an array of type %d, want text", elem)
	}
	count := binary.BigEndian.Uint32(v[12:])
	rest := v[20:]
	for range count {
		if len(rest) < 4 {
			return text, ends, fmt.Errorf("a text[] of %d elements cut short", count)
		}
		size := int32(binary.BigEndian.Uint32(rest))
		rest = rest[4:]
		if size < -1 || size > int32(len(rest)) {
			return text, ends, fmt.Errorf("a text[] element of %d bytes in the %d left", size, len(rest))
		}
		if size > 0 {
			text, rest = append(text, rest[:size]...), rest[size:]
		}
		ends = append(ends, len(text))
	}
	if len(rest) != 0 {
		return text, ends, fmt.Errorf("a text[] of %d elements with %d bytes left over", count, len(rest))
	}
	return text, ends, nil
}
