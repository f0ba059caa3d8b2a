package adyenemu

import "testing"

func TestFormatAmount(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{map[string]any{"currency": "EUR", "value": float64(0)}, "EUR 0.00"},
		{map[string]any{"currency": "EUR", "value": float64(1999)}, "EUR 19.99"},
		{map[string]any{"currency": "USD", "value": float64(-5)}, "USD -0.05"},
		{map[string]any{"currency": "JPY", "value": float64(500)}, "JPY 500"},
		{map[string]any{"currency": "KWD", "value": float64(1250)}, "KWD 1.250"},
		{map[string]any{"currency": "EUR"}, "none"},
		{nil, "none"},
	} {
		if got := formatAmount(tc.in); got != tc.want {
			t.Errorf("formatAmount(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
