package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/testenv"
	"github.com/paysync/paysync/store"
)

// BenchmarkUpsertCustomer creates customers with a pending link from
// concurrent goroutines, as the create-customer API does.
func BenchmarkUpsertCustomer(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchUpsert(b, openDB(b, filepath.Join(b.TempDir(), "bench.db"), 0)) })
	b.Run("postgres", func(b *testing.B) { benchUpsert(b, openDB(b, testenv.PostgresURL(b), 0)) })
}

func benchUpsert(b *testing.B, db *store.DB) {
	ctx := context.Background()
	var seq atomic.Int64
	b.SetParallelism(4) // 4 × GOMAXPROCS goroutines: more than the API's cores, like a loaded server
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ext := fmt.Sprintf("bench-%d", seq.Add(1))
			_, created, err := db.UpsertCustomer(ctx, "org-bench", ext, func(*paysync.Customer) (*paysync.Customer, error) {
				return &paysync.Customer{Name: "Bench", Email: ext + "@example.com",
					Metadata: []paysync.Metadata{{Key: "source", Value: "bench"}},
					Link: &paysync.ProviderLink{Provider: paysync.Stripe, ConnectionCode: "main", SyncWithProvider: true,
						Generation: 1, State: paysync.SyncPending, PendingSince: time.Now()}}, nil
			})
			if err != nil || !created {
				b.Fatalf("upsert: created %v, %v", created, err)
			}
		}
	})
}
