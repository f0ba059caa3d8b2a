package paysync_test

import (
	"testing"
	_ "time/tzdata" // the test must pass on machines without zoneinfo

	"github.com/paysync/paysync"
)

func TestValidCountry(t *testing.T) {
	for _, c := range []string{"US", "FR", "DE", "GB", "AX", "BQ", "SS", "ZW"} {
		if !paysync.ValidCountry(c) {
			t.Errorf("ValidCountry(%q) = false, want true", c)
		}
	}
	// Lower case, alpha-3, user-assigned (XK) and retired (YU) codes are refused.
	for _, c := range []string{"", "us", "Us", "USA", "XK", "YU", "UK", "EU", " US"} {
		if paysync.ValidCountry(c) {
			t.Errorf("ValidCountry(%q) = true, want false", c)
		}
	}
}

func TestValidCurrency(t *testing.T) {
	for _, c := range []string{"USD", "EUR", "GBP", "JPY", "CHF", "XOF", "VES", "ZWG"} {
		if !paysync.ValidCurrency(c) {
			t.Errorf("ValidCurrency(%q) = false, want true", c)
		}
	}
	for _, c := range []string{"", "usd", "US", "USDT", "BTC", "HRK", "XXX", "XTS", "DEM"} {
		if paysync.ValidCurrency(c) {
			t.Errorf("ValidCurrency(%q) = true, want false", c)
		}
	}
}

func TestCurrencyInfo(t *testing.T) {
	tests := []struct{ code, name, symbol string }{
		{"USD", "US Dollar", "$"},
		{"EUR", "Euro", "€"},
		{"GBP", "Pound Sterling", "£"},
		{"JPY", "Yen", "¥"},
		{"CHF", "Swiss Franc", "CHF"},
	}
	for _, tt := range tests {
		name, symbol, ok := paysync.CurrencyInfo(tt.code)
		if !ok || name != tt.name || symbol != tt.symbol {
			t.Errorf("CurrencyInfo(%q) = %q, %q, %v; want %q, %q, true", tt.code, name, symbol, ok, tt.name, tt.symbol)
		}
	}
	if _, _, ok := paysync.CurrencyInfo("usd"); ok {
		t.Error("CurrencyInfo accepts lower case")
	}
}

func TestValidLocale(t *testing.T) {
	for _, c := range []string{"en", "fr", "de", "pt", "nb", "zh", "zu"} {
		if !paysync.ValidLocale(c) {
			t.Errorf("ValidLocale(%q) = false, want true", c)
		}
	}
	for _, c := range []string{"", "EN", "eng", "fra", "pt-BR", "pt_BR", "xx", "e"} {
		if paysync.ValidLocale(c) {
			t.Errorf("ValidLocale(%q) = true, want false", c)
		}
	}
}

func TestValidTimezone(t *testing.T) {
	for _, z := range []string{"UTC", "Europe/Paris", "America/Los_Angeles", "Asia/Kolkata", "America/Argentina/Buenos_Aires"} {
		if !paysync.ValidTimezone(z) {
			t.Errorf("ValidTimezone(%q) = false, want true", z)
		}
	}
	for _, z := range []string{"", "Local", "Mars/Olympus_Mons", "Europe/", "../etc/passwd", "+02:00"} {
		if paysync.ValidTimezone(z) {
			t.Errorf("ValidTimezone(%q) = true, want false", z)
		}
	}
}
