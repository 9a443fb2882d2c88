package db

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
)

// serveSamplesPG runs serveSamples' statement (serveSamplesQuery's, keys
// its one parameter) on PostgreSQL through
// pgx's own interface, on a connection of the reader's pool. Through
// database/sql every column of every row became a driver.Value (each
// bytea copied by pgx, then again into the Scan target, each int64
// boxed) and was converted by reflection: a quarter of hashr-serve's
// CPU for a bulk of 1,000. pgx scans the binary results straight into
// the targets, copying each bytea once.
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
		var snapshot pgtype.DriverBytes // the same in every row: made a string once
		for rows.Next() {
			row := &ServedSample{Links: make([]ServedLink, 1)}
			if err := scanServedPG(rows, &row.Sample, &row.Links[0], &snapshot, &row.LinkTotal); err != nil {
				return err
			}
			into.add(row, snapshot)
		}
		return rows.Err()
	})
}

// scanServedPG reads one row of serveSamples' statement from pgx.
func scanServedPG(rows pgx.Rows, s *Sample, l *ServedLink, snapshot *pgtype.DriverBytes, linkTotal *int64) error {
	var ssdeep, tlsh, mime, paths pgtype.Text
	var size pgtype.Int8
	if err := rows.Scan(&s.SHA256, &s.MD5, &s.SHA1, &s.SHA512, &s.CRC32, &s.BLAKE3, &ssdeep, &tlsh, &size, &mime,
		&l.Source.SHA256, &paths, &l.Failed, snapshot, linkTotal); err != nil {
		return err
	}
	text := func(t pgtype.Text) sql.NullString { return sql.NullString{String: t.String, Valid: t.Valid} }
	return fillServed(s, l, text(ssdeep), text(tlsh), text(mime), sql.NullInt64{Int64: size.Int64, Valid: size.Valid}, text(paths))
}
