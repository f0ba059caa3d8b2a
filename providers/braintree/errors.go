package braintree

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	bt "github.com/braintree-go/braintree-go"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers"
)

// exchange is what the recorder saw of the last response of one call.
type exchange struct {
	keepBody bool
	status   int
	header   http.Header
	body     []byte // raw, possibly gzip; only when keepBody and status 200
}

type exchangeKey struct{}

// record returns ctx carrying a fresh exchange for the next gateway call.
func record(ctx context.Context, keepBody bool) (context.Context, *exchange) {
	x := &exchange{keepBody: keepBody}
	return context.WithValue(ctx, exchangeKey{}, x), x
}

// recorder is the transport under braintree-go: it notes status, headers
// and, when asked, the body of each response into the call's exchange.
type recorder struct{ base http.RoundTripper }

// maxBody bounds what the recorder buffers; a customer is a few kilobytes.
const maxBody = 4 << 20

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	x, ok := req.Context().Value(exchangeKey{}).(*exchange)
	if err != nil || !ok {
		return resp, err
	}
	x.status, x.header = resp.StatusCode, resp.Header.Clone()
	if x.keepBody && resp.StatusCode == http.StatusOK {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		x.body = b
		resp.Body = io.NopCloser(bytes.NewReader(b))
	}
	return resp, nil
}

// otherPaymentMethods reports whether the recorded customer carries a
// payment method of a type braintree-go v0.22.0 does not model (it knows
// credit cards, PayPal, Venmo, Apple Pay and Android Pay only).
func (x *exchange) otherPaymentMethods() (bool, error) {
	var r io.Reader = bytes.NewReader(x.body)
	if strings.EqualFold(x.header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return false, fmt.Errorf("braintree: customer body: %w", err)
		}
		r = zr
	}
	type list struct {
		Items []struct{ XMLName xml.Name } `xml:",any"`
	}
	var c struct {
		USBankAccounts       list `xml:"us-bank-accounts"`
		SEPADebitAccounts    list `xml:"sepa-debit-accounts"`
		VisaCheckoutCards    list `xml:"visa-checkout-cards"`
		MasterpassCards      list `xml:"masterpass-cards"`
		SamsungPayCards      list `xml:"samsung-pay-cards"`
		AmexExpressCheckouts list `xml:"amex-express-checkout-cards"`
	}
	if err := xml.NewDecoder(r).Decode(&c); err != nil {
		return false, fmt.Errorf("braintree: customer body: %w", err)
	}
	for _, l := range []list{c.USBankAccounts, c.SEPADebitAccounts, c.VisaCheckoutCards, c.MasterpassCards, c.SamsungPayCards, c.AmexExpressCheckouts} {
		if len(l.Items) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// classify turns any failure of a gateway call into a *paysync.ProviderError:
// the one place that decides between retrying and giving up.
func classify(err error, x *exchange) error {
	pe := &paysync.ProviderError{Provider: paysync.Braintree, Message: err.Error()}
	var (
		be     *bt.BraintreeError
		ae     bt.APIError
		ire    bt.InvalidResponseError
		netErr net.Error
	)
	switch {
	case errors.As(err, &be):
		pe.HTTPStatus = be.StatusCode()
		if be.ErrorMessage != "" {
			pe.Message = be.ErrorMessage
		}
	case errors.As(err, &ae):
		pe.HTTPStatus = ae.StatusCode()
	case errors.As(err, &ire):
		pe.HTTPStatus = ire.Response().StatusCode
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		pe.Code, pe.Retryable = "timeout", true
		return pe
	case errors.Is(err, context.Canceled):
		pe.Code, pe.Retryable = "canceled", true
		return pe
	default:
		// Connection refused or reset, a truncated or unreadable body:
		// nothing says the request was refused, so try again.
		pe.Code, pe.Retryable = "network_error", true
		return pe
	}

	switch s := pe.HTTPStatus; {
	case be != nil && (s == http.StatusUnprocessableEntity || s < 300):
		pe.Code = firstCode(be)
	case s == http.StatusUnauthorized:
		pe.Code = "authentication_error"
	case s == http.StatusForbidden:
		pe.Code = "authorization_error"
	case s == http.StatusNotFound:
		// Every call this adapter makes names a customer.
		pe.Code = paysync.CodeCustomerNotFound
	case s == http.StatusUpgradeRequired:
		pe.Code = "upgrade_required"
	case s == http.StatusTooManyRequests:
		pe.Code, pe.Retryable = "too_many_requests", true
		if x != nil && x.header != nil {
			pe.RetryAfter = providers.RetryAfter(x.header.Get("Retry-After"), time.Now())
		}
	case s == http.StatusRequestTimeout || s == http.StatusGatewayTimeout:
		pe.Code, pe.Retryable = "timeout", true
	case s == http.StatusServiceUnavailable:
		// Braintree answers 503 while down for maintenance.
		pe.Code, pe.Retryable = "service_unavailable", true
	case s >= 500:
		pe.Code, pe.Retryable = "server_error", true
	case s < 400:
		// A success status braintree-go did not expect for the call (a
		// proxy in the way?): retrying is safe, the customer id is ours.
		pe.Code, pe.Retryable = "unexpected_response", true
	default:
		pe.Code = "http_" + strconv.Itoa(s)
	}
	return pe
}

// firstCode is the first validation error code of a 422: the customer's
// own errors in Braintree's order first, then any other, lowest code first
// (braintree-go keeps nested errors in a map, so order must be imposed).
func firstCode(be *bt.BraintreeError) string {
	if errs := be.For("Customer").All(); len(errs) > 0 {
		return errs[0].Code
	}
	all := be.All()
	if len(all) == 0 {
		return "validation_error"
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Code < all[j].Code })
	return all[0].Code
}
