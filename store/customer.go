package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/paysync/paysync"
)

var (
	// selectCustomer reads a customer with its link, if any.
	selectCustomer = "SELECT c.sequential_id, " + columnList("c", customerColumns) + ", " + columnList("l", linkColumns) +
		" FROM customers c LEFT JOIN provider_links l ON l.customer_id = c.id"

	insertCustomer = "INSERT INTO customers (" + strings.Join(customerColumns, ", ") + ") VALUES (" +
		placeholders(1, len(customerColumns)) + ") ON CONFLICT (organization_id, external_id) DO NOTHING RETURNING sequential_id"
	// updateCustomer sets every column but id ($1): PostgreSQL wants every
	// parameter used, and unchanged values cost nothing.
	updateCustomer = "UPDATE customers SET " + assignments(customerColumns[1:], 2) + " WHERE id = $1"

	upsertLink = "INSERT INTO provider_links (" + strings.Join(linkColumns, ", ") + ") VALUES (" +
		placeholders(1, len(linkColumns)) + ") ON CONFLICT (customer_id) DO UPDATE SET " + excludedAssignments(linkColumns)
)

func assignments(cols []string, from int) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = fmt.Sprintf("%s = $%d", c, from+i)
	}
	return strings.Join(parts, ", ")
}

func excludedAssignments(cols []string) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = c + " = excluded." + c
	}
	return strings.Join(parts, ", ")
}

// errInsertRace: another transaction inserted the same external id first.
var errInsertRace = errors.New("store: concurrent insert of the same customer")

// maxUpsertAttempts bounds the retries after losing an insert race. A retry
// finds the winner's row and locks it, so it cannot lose again unless that
// row is deleted in between; three attempts are plenty.
const maxUpsertAttempts = 3

func notFound() error {
	return &paysync.Error{Code: paysync.ENOTFOUND, Resource: "customer", Message: "customer not found"}
}

// UpsertCustomer implements paysync.Store. When two transactions race to
// insert one new external id, the loser runs again, calling change a second
// time with the winner's row: change must only compute, never act outside
// the store, and must not write through the store itself (on SQLite the
// one writer connection is taken). A write that changes nothing (same
// fields, same link) is skipped, so updated_at moves only when the customer
// or its link changes.
// Sequential ids come from one database-wide sequence: unique and
// increasing within an organization, with gaps.
func (db *DB) UpsertCustomer(ctx context.Context, orgID, externalID string, change func(existing *paysync.Customer) (*paysync.Customer, error)) (*paysync.Customer, bool, error) {
	for attempt := 1; ; attempt++ {
		c, created, err := db.upsertOnce(ctx, orgID, externalID, change)
		// A pooled connection the server or a failover broke aborts the
		// transaction before anything commits: it is safe to run again.
		brokenConn := errors.Is(err, driver.ErrBadConn) && ctx.Err() == nil
		if (errors.Is(err, errInsertRace) || brokenConn) && attempt < maxUpsertAttempts {
			continue
		}
		return c, created, err
	}
}

func (db *DB) upsertOnce(ctx context.Context, orgID, externalID string, change func(*paysync.Customer) (*paysync.Customer, error)) (c *paysync.Customer, created bool, err error) {
	err = db.inTx(ctx, func(tx *sql.Tx) error {
		existing, err := db.lockCustomer(ctx, tx, orgID, externalID)
		if err != nil {
			return err
		}
		// What is stored now, taken before change may edit existing in place.
		var before, linkBefore *snapshot
		if existing != nil {
			before = &snapshot{values: values(customerFields, existing), id: existing.ID, seq: existing.SequentialID,
				created: existing.CreatedAt, updated: existing.UpdatedAt,
				metadata: append([]paysync.Metadata(nil), existing.Metadata...)}
			if l := existing.Link; l != nil {
				linkBefore = &snapshot{values: values(linkFields, l), updated: l.UpdatedAt}
			}
		}
		c, err = change(existing)
		if err != nil {
			return err
		}
		if c == nil {
			return errors.New("store: UpsertCustomer: change returned no customer")
		}
		if err := prepareCustomer(c, orgID, externalID, before); err != nil {
			return err
		}
		created = existing == nil
		return db.writeCustomer(ctx, tx, c, before, linkBefore)
	})
	if err != nil {
		return nil, false, err
	}
	return c, created, nil
}

// snapshot is a stored customer or link row as query arguments, plus what
// the store keeps across updates.
type snapshot struct {
	values   []any
	id       string
	seq      int64
	created  time.Time
	updated  time.Time
	metadata []paysync.Metadata
}

// lockCustomer loads the customer with its link and write-locks both.
func (db *DB) lockCustomer(ctx context.Context, tx *sql.Tx, orgID, externalID string) (*paysync.Customer, error) {
	c := &paysync.Customer{}
	err := tx.QueryRowContext(ctx, "SELECT sequential_id, "+strings.Join(customerColumns, ", ")+
		" FROM customers WHERE organization_id = $1 AND external_id = $2"+db.forUpdate(),
		orgID, externalID).Scan(append([]any{&c.SequentialID}, dests(customerFields, c)...)...)
	if err != nil {
		return nil, noRow(err, absent) // none yet
	}
	// The link is read by a statement of its own, after the customer lock
	// is held: a join locked only on customers would return the link as of
	// before the wait (PostgreSQL re-checks only the locked row), and the
	// lock on the link keeps RecordSync from changing it under us.
	c.Link, err = selectOne(ctx, tx, linkFields, absent,
		"provider_links WHERE customer_id = $1"+db.forUpdate(), c.ID)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// prepareCustomer fills what the store owns: ids, sequential id, creation
// times, metadata identity; and normalizes values to what reads return.
func prepareCustomer(c *paysync.Customer, orgID, externalID string, before *snapshot) error {
	if c.OrganizationID == "" {
		c.OrganizationID = orgID
	}
	if c.ExternalID == "" {
		c.ExternalID = externalID
	}
	if c.OrganizationID != orgID || c.ExternalID != externalID {
		return errors.New("store: UpsertCustomer: change altered the organization or external id")
	}
	t := now()
	if before != nil {
		if c.ID != "" && c.ID != before.id {
			return errors.New("store: UpsertCustomer: change altered the customer id")
		}
		c.ID, c.SequentialID, c.CreatedAt = before.id, before.seq, before.created
	} else {
		if c.ID == "" {
			c.ID = newID()
		}
		c.CreatedAt = normTime(c.CreatedAt)
		if c.CreatedAt.IsZero() {
			c.CreatedAt = t
		}
	}
	var old []paysync.Metadata
	if before != nil {
		old = before.metadata
	}
	c.Metadata = mergeMetadata(old, c.Metadata, t)
	// Empty and nil read back alike (NULL).
	if len(c.TaxCodes) == 0 {
		c.TaxCodes = nil
	}
	if len(c.ProviderPaymentMethods) == 0 {
		c.ProviderPaymentMethods = nil
	}
	if len(c.Properties) == 0 {
		c.Properties = nil
	}
	if l := c.Link; l != nil {
		if l.ID == "" {
			l.ID = newID()
		}
		l.CustomerID, l.OrganizationID = c.ID, c.OrganizationID
		if l.State == "" {
			l.State = paysync.SyncNone
		}
		l.PendingSince = normTime(l.PendingSince)
		if l.SyncedAt != nil {
			st := normTime(*l.SyncedAt)
			l.SyncedAt = &st
		}
		if l.LastError != nil {
			e := *l.LastError // not aliasing the caller's error value
			l.LastError = &e
		}
	}
	return nil
}

// mergeMetadata gives every item an id and creation time: an item whose
// key was already stored keeps that item's, since callers send items
// without them. Keys and values become valid UTF-8 as reads return them.
func mergeMetadata(old, items []paysync.Metadata, t time.Time) []paysync.Metadata {
	if len(items) == 0 {
		return nil
	}
	byKey := make(map[string]paysync.Metadata, len(old))
	for _, m := range old {
		byKey[m.Key] = m
	}
	out := make([]paysync.Metadata, len(items))
	for i, m := range items {
		m.Key, m.Value = validUTF8(m.Key), validUTF8(m.Value)
		if prev, ok := byKey[m.Key]; ok && (m.ID == "" || m.ID == prev.ID) {
			m.ID, m.CreatedAt = prev.ID, prev.CreatedAt
			delete(byKey, m.Key) // a repeated key gets an id of its own
		}
		if m.ID == "" {
			m.ID = newID()
		}
		m.CreatedAt = normTime(m.CreatedAt)
		if m.CreatedAt.IsZero() {
			m.CreatedAt = t
		}
		out[i] = m
	}
	return out
}

// validUTF8 replaces each byte of s that is not UTF-8 with U+FFFD, as
// encoding/json does when it writes the metadata column (it writes the
// escape "\ufffd" there, and the real character for a valid U+FFFD).
// Normalized before writing, the column holds json.Marshal of exactly what
// reads return, which the metadata filter relies on (see
// conditions.metadata).
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// writeCustomer writes c and its link, skipping statements that would not
// change anything.
func (db *DB) writeCustomer(ctx context.Context, tx *sql.Tx, c *paysync.Customer, before, linkBefore *snapshot) error {
	t := now()
	writeLink := false
	if l := c.Link; l != nil {
		if linkBefore != nil && unchanged(linkBefore.values, values(linkFields, l)) {
			l.UpdatedAt = linkBefore.updated
		} else {
			l.UpdatedAt = t
			writeLink = true
		}
	}
	deleteLink := c.Link == nil && linkBefore != nil

	switch {
	case before == nil:
		c.UpdatedAt = t
		err := tx.QueryRowContext(ctx, insertCustomer, values(customerFields, c)...).Scan(&c.SequentialID)
		if errors.Is(err, sql.ErrNoRows) {
			return errInsertRace
		}
		if err != nil {
			return fmt.Errorf("store: insert customer: %w", err)
		}
	case writeLink || deleteLink || !unchanged(before.values, values(customerFields, c)):
		c.UpdatedAt = t
		if _, err := tx.ExecContext(ctx, updateCustomer, values(customerFields, c)...); err != nil {
			return fmt.Errorf("store: update customer: %w", err)
		}
	default:
		c.UpdatedAt = before.updated
	}

	if deleteLink {
		if _, err := tx.ExecContext(ctx, "DELETE FROM provider_links WHERE customer_id = $1", c.ID); err != nil {
			return fmt.Errorf("store: delete link: %w", err)
		}
	}
	if writeLink {
		if _, err := tx.ExecContext(ctx, upsertLink, values(linkFields, c.Link)...); err != nil {
			return fmt.Errorf("store: write link: %w", err)
		}
	}
	return nil
}

func newID() string {
	// NewV7 fails only when the system's random source does.
	return uuid.Must(uuid.NewV7()).String()
}

// Customer implements paysync.Store.
func (db *DB) Customer(ctx context.Context, orgID string, by paysync.CustomerKey) (*paysync.Customer, error) {
	var where string
	var arg string
	switch {
	case by.ID != "":
		where, arg = "c.id = $2", by.ID
	case by.ExternalID != "":
		where, arg = "c.external_id = $2", by.ExternalID
	case by.Email != "":
		// lower() folds ASCII only on SQLite; emails are compared as such.
		where, arg = "lower(c.email) = lower($2)", by.Email
	default:
		return nil, paysync.Errorf(paysync.EINVALID, "a customer id, external id or email is required")
	}
	if !storable(arg) {
		return nil, notFound()
	}
	return db.firstCustomer(ctx, "c.organization_id = $1 AND "+where, orgID, arg)
}

// firstCustomer reads the oldest customer, with its link, that where selects.
func (db *DB) firstCustomer(ctx context.Context, where string, args ...any) (*paysync.Customer, error) {
	cs, err := db.queryCustomers(ctx, selectCustomer+" WHERE "+where+" ORDER BY c.sequential_id LIMIT 1", args...)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, notFound()
	}
	return cs[0], nil
}

// Customers implements paysync.Store: every condition of f is SQL (see
// customerConditions), so a page reads only its rows, and the count runs
// only when the page cannot tell the total.
func (db *DB) Customers(ctx context.Context, orgID string, f paysync.CustomerFilter) ([]*paysync.Customer, int, error) {
	w, none, err := db.customerConditions(orgID, f)
	if err != nil || none {
		return nil, 0, err
	}
	order := " ORDER BY c.sequential_id"
	if f.Desc {
		order += " DESC"
	}
	if f.All {
		cs, err := db.queryCustomers(ctx, selectCustomer+" WHERE "+w.sql()+order, w.args...)
		return cs, len(cs), err
	}
	where, args := w.sql(), w.args
	limit, offset := pageBounds(f)
	cs, err := db.queryCustomers(ctx, selectCustomer+" WHERE "+where+order+
		" LIMIT "+w.arg(limit)+" OFFSET "+w.arg(offset), w.args...)
	if err != nil {
		return nil, 0, err
	}
	// A page that ends short, and is not past the end, holds the last match.
	if len(cs) < limit && (len(cs) > 0 || offset == 0) {
		return cs, offset + len(cs), nil
	}
	var total int
	if err := db.ro.QueryRowContext(ctx, "SELECT COUNT(*) FROM customers c WHERE "+where, args...).Scan(&total); err != nil {
		return nil, 0, unavailable(err)
	}
	return cs, total, nil
}

// pageBounds is the LIMIT and OFFSET of f's page: Limit and Offset when
// Limit is set (Limit capped at maxLimit), else Page and PerPage (PerPage
// 20 by default, capped at 100; a Page below 1 is the first).
func pageBounds(f paysync.CustomerFilter) (limit, offset int) {
	if f.Limit > 0 {
		return min(f.Limit, maxLimit), max(f.Offset, 0)
	}
	page, perPage := max(f.Page, 1), f.PerPage
	switch {
	case perPage <= 0:
		perPage = 20
	case perPage > 100:
		perPage = 100
	}
	// A page so far that its offset overflows is past any end: the
	// largest offset lists nothing, where a wrapped one would be negative.
	if page-1 > math.MaxInt/perPage {
		return perPage, math.MaxInt
	}
	return perPage, (page - 1) * perPage
}

func (db *DB) queryCustomers(ctx context.Context, query string, args ...any) ([]*paysync.Customer, error) {
	rows, err := db.ro.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, unavailable(err)
	}
	cs, err := scanCustomers(rows)
	return cs, unavailable(err)
}

// DeleteCustomer implements paysync.Store; the link goes by ON DELETE CASCADE.
func (db *DB) DeleteCustomer(ctx context.Context, orgID, customerID string) error {
	if !storable(customerID) {
		return notFound()
	}
	return db.execOne(ctx, notFound, "DELETE FROM customers WHERE organization_id = $1 AND id = $2", orgID, customerID)
}

// LinkCustomer implements paysync.Store.
func (db *DB) LinkCustomer(ctx context.Context, linkID string) (*paysync.Customer, error) {
	return db.firstCustomer(ctx, "l.id = $1", linkID)
}

// scanCustomers reads rows of selectCustomer and closes them.
func scanCustomers(rows *sql.Rows) ([]*paysync.Customer, error) {
	defer rows.Close()
	var out []*paysync.Customer
	for rows.Next() {
		c, l := &paysync.Customer{}, &paysync.ProviderLink{}
		dest := append([]any{&c.SequentialID}, dests(customerFields, c)...)
		if err := rows.Scan(append(dest, dests(linkFields, l)...)...); err != nil {
			return nil, err
		}
		if l.ID != "" {
			c.Link = l
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
