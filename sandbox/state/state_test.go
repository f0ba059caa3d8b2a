package state_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/paysync/paysync/sandbox/state"
	"github.com/paysync/paysync/sandbox/state/statetest"
)

// PutAll saves more objects than one statement carries, overwriting those
// already kept, and Load reads them all back.
func TestPutAll(t *testing.T) {
	statetest.EachDB(t, func(t *testing.T, db *sql.DB) {
		st := state.New(db, "test")
		st.OnError = func(err error) { t.Error(err) }
		st.Put("thing", "id-0000", "old")
		var objs []state.Object
		for i := range 450 {
			objs = append(objs, state.Object{ID: fmt.Sprintf("id-%04d", i), Value: fmt.Sprint(i)})
		}
		if err := st.PutAll("thing", objs); err != nil {
			t.Fatal(err)
		}
		n := 0
		err := state.Load(context.Background(), st, "thing", func(id string, v *string) {
			if want := fmt.Sprintf("id-%04d", n); id != want || *v != fmt.Sprint(n) {
				t.Errorf("object %d: %s = %q, want %s = %d", n, id, *v, want, n)
			}
			n++
		})
		if err != nil || n != 450 {
			t.Errorf("loaded %d objects (%v), want 450", n, err)
		}
		// A failed batch saves nothing and says so.
		db.Close()
		if err := st.PutAll("thing", objs[:1]); err == nil {
			t.Error("PutAll on a closed database reported no error")
		}
	})
}
