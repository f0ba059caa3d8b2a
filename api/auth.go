package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/paysync/paysync"
)

// HashKey is how an API key is stored and looked up: hex SHA-256. Keys are
// long random strings, so a plain hash is enough; no key is ever stored.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Positive lookups are cached because every request authenticates: a
// revoked key keeps working for at most keyCacheTTL in each process.
const (
	keyCacheTTL  = time.Minute
	keyCacheSize = 10000
)

// authenticator resolves API keys to organizations.
type authenticator struct {
	store paysync.Store
	mu    sync.Mutex
	cache map[string]cachedOrg // by key hash
	now   func() time.Time
}

type cachedOrg struct {
	org     *paysync.Organization
	expires time.Time
}

func newAuthenticator(store paysync.Store) *authenticator {
	return &authenticator{store: store, cache: make(map[string]cachedOrg), now: time.Now}
}

// organization returns the organization key authenticates, nil when it
// authenticates none. Unknown keys are not cached, so a new key works at once.
func (a *authenticator) organization(ctx context.Context, key string) (*paysync.Organization, error) {
	if key == "" {
		return nil, nil
	}
	hash := HashKey(key)
	now := a.now()
	a.mu.Lock()
	c, ok := a.cache[hash]
	a.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.org, nil
	}
	org, err := a.store.OrganizationByAPIKey(ctx, hash)
	switch paysync.ErrorCode(err) {
	case paysync.EUNAUTHORIZED, paysync.ENOTFOUND:
		return nil, nil
	}
	if err != nil || org == nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= keyCacheSize {
		a.evict(now)
	}
	a.cache[hash] = cachedOrg{org: org, expires: now.Add(keyCacheTTL)}
	return org, nil
}

// evict makes room: expired entries first, then arbitrary ones, so the
// cache stays bounded whatever keys are presented.
func (a *authenticator) evict(now time.Time) {
	for h, c := range a.cache {
		if !now.Before(c.expires) {
			delete(a.cache, h)
		}
	}
	for h := range a.cache {
		if len(a.cache) < keyCacheSize {
			break
		}
		delete(a.cache, h)
	}
}

var errUnauthorized = &paysync.Error{Code: paysync.EUNAUTHORIZED, Message: "Unauthorized"}

type orgKey struct{}

// organizationFrom returns the authenticated organization of a request.
func organizationFrom(ctx context.Context) *paysync.Organization {
	org, _ := ctx.Value(orgKey{}).(*paysync.Organization)
	return org
}

// authenticate lets through requests whose d-style API key names an
// organization, with that organization in the context.
func authenticate(a *authenticator, d dialect, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org, err := a.organization(r.Context(), d.key(r))
		if err != nil {
			fail(w, r, log, d, err)
			return
		}
		if org == nil {
			fail(w, r, log, d, errUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), orgKey{}, org)))
	})
}

// bearerKey reads "Authorization: Bearer <key>".
func bearerKey(r *http.Request) string {
	scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(key)
}

// requireDashboardKey guards the dashboard: an API key, as the basic-auth
// password (what a browser prompts for; the user name is ignored) or as a
// Bearer token. The dashboard controls the queues of every organization,
// so when admin names an organization only its keys get in.
func requireDashboardKey(a *authenticator, admin string, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := bearerKey(r)
		if _, password, ok := r.BasicAuth(); ok {
			key = password
		}
		org, err := a.organization(r.Context(), key)
		if err != nil {
			status := statusOf(err)
			logFailure(r, log, status, err)
			if status == http.StatusServiceUnavailable {
				setRetryAfter(w)
			}
			http.Error(w, http.StatusText(status), status)
			return
		}
		if org == nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="paysync"`)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		if admin != "" && org.Name != admin {
			http.Error(w, "Forbidden: the dashboard takes a key of organization "+admin, http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireOperator guards the dashboard with operator credentials (HTTP
// Basic auth) instead of API keys: the dashboard controls every
// organization's queues, which no tenant's key should reach. Passwords
// are compared by their SHA-256 in constant time; an unknown user costs
// the same comparison.
func requireOperator(users map[string][32]byte, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		want, known := users[user]
		got := sha256.Sum256([]byte(password))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 || !known {
			if ok {
				// Neither the user name (a password typed in the wrong
				// field) nor the password is logged.
				log.WarnContext(r.Context(), "dashboard: operator credentials refused", "request_id", requestIDFrom(r.Context()))
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="paysync dashboard"`)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
