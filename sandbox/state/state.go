// Package state keeps the sandbox emulators' objects across restarts of
// paysync: each object is one JSON row of the sandbox_objects table, in the
// database paysync itself uses (SQLite or PostgreSQL). The table belongs to
// the sandbox, not to paysync's schema: Open creates it if missing.
//
// Emulators write every object through as they change it and load them all
// when built; an emulator without a *Store keeps its state in memory only.
package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// writeTimeout bounds one write: an emulator holds its lock while writing.
const writeTimeout = 10 * time.Second

// Store is one emulator's share of the table. A nil *Store stores nothing.
type Store struct {
	db       *sql.DB
	provider string
	// OnError learns of a write that failed; the emulator's memory stays
	// right, only a restart would lose the object.
	OnError func(error)
}

// Open creates the table if it is missing. The SQL is portable between
// SQLite and PostgreSQL ($n placeholders work on both).
func Open(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS sandbox_objects (
	provider TEXT NOT NULL,
	kind TEXT NOT NULL,
	id TEXT NOT NULL,
	body TEXT NOT NULL,
	PRIMARY KEY (provider, kind, id))`)
	if err != nil {
		return fmt.Errorf("sandbox state: %w", err)
	}
	return nil
}

// New returns the store of provider's objects in db, whose table Open made.
func New(db *sql.DB, provider string) *Store {
	return &Store{db: db, provider: provider}
}

// Put saves v as the object kind/id.
func (s *Store) Put(kind, id string, v any) {
	if s == nil {
		return
	}
	body, err := json.Marshal(v)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		defer cancel()
		_, err = s.db.ExecContext(ctx, `INSERT INTO sandbox_objects (provider, kind, id, body) VALUES ($1, $2, $3, $4)
ON CONFLICT (provider, kind, id) DO UPDATE SET body = excluded.body`, s.provider, kind, id, string(body))
	}
	s.fail(kind, id, err)
}

// Object is one object of a PutAll.
type Object struct {
	ID    string
	Value any
}

// putAllRows is how many objects one INSERT of PutAll carries: 4 parameters
// each stays under SQLite's oldest limit of 999.
const putAllRows = 200

// PutAll saves the objects of kind in one transaction, many rows to a
// statement: what seeding thousands of objects needs. Unlike Put it
// returns its failure, after which none of the objects was saved, so that
// the caller can undo the batch in memory and say so.
func (s *Store) PutAll(kind string, objs []Object) error {
	if s == nil || len(objs) == 0 {
		return nil
	}
	// A large batch takes longer than one row; the bound grows with it.
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout+time.Duration(len(objs))*time.Millisecond)
	defer cancel()
	if err := s.putAll(ctx, kind, objs); err != nil {
		return fmt.Errorf("sandbox state: save %d %s %s objects: %w", len(objs), s.provider, kind, err)
	}
	return nil
}

func (s *Store) putAll(ctx context.Context, kind string, objs []Object) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for len(objs) > 0 {
		batch := objs[:min(putAllRows, len(objs))]
		objs = objs[len(batch):]
		var q strings.Builder
		q.WriteString("INSERT INTO sandbox_objects (provider, kind, id, body) VALUES ")
		args := make([]any, 0, 4*len(batch))
		for i, o := range batch {
			body, err := json.Marshal(o.Value)
			if err != nil {
				return fmt.Errorf("%s: %w", o.ID, err)
			}
			if i > 0 {
				q.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4)
			args = append(args, s.provider, kind, o.ID, string(body))
		}
		q.WriteString(" ON CONFLICT (provider, kind, id) DO UPDATE SET body = excluded.body")
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Delete forgets the object kind/id.
func (s *Store) Delete(kind, id string) {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	_, err := s.db.ExecContext(ctx, "DELETE FROM sandbox_objects WHERE provider = $1 AND kind = $2 AND id = $3", s.provider, kind, id)
	s.fail(kind, id, err)
}

func (s *Store) fail(kind, id string, err error) {
	if err != nil && s.OnError != nil {
		s.OnError(fmt.Errorf("sandbox state: save %s %s %s: %w", s.provider, kind, id, err))
	}
}

// Load calls fn with every object of kind, decoded into a fresh *T, in id order.
func Load[T any](ctx context.Context, s *Store, kind string, fn func(id string, v *T)) error {
	if s == nil {
		return nil
	}
	rows, err := s.db.QueryContext(ctx, "SELECT id, body FROM sandbox_objects WHERE provider = $1 AND kind = $2 ORDER BY id", s.provider, kind)
	if err != nil {
		return fmt.Errorf("sandbox state: load %s %s: %w", s.provider, kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, body string
		if err := rows.Scan(&id, &body); err != nil {
			return fmt.Errorf("sandbox state: load %s %s: %w", s.provider, kind, err)
		}
		v := new(T)
		if err := json.Unmarshal([]byte(body), v); err != nil {
			return fmt.Errorf("sandbox state: load %s %s %s: %w", s.provider, kind, id, err)
		}
		fn(id, v)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sandbox state: load %s %s: %w", s.provider, kind, err)
	}
	return nil
}
