package braintree

import (
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	bt "github.com/braintree-go/braintree-go"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/providers"
)

// otherPaymentMethods reports whether the recorded customer carries a
// payment method of a type braintree-go v0.22.0 does not model (it knows
// credit cards, PayPal, Venmo, Apple Pay and Android Pay only).
func otherPaymentMethods(x *providers.LastResponse) (bool, error) {
	var r io.Reader = bytes.NewReader(x.Body)
	if strings.EqualFold(x.Header.Get("Content-Encoding"), "gzip") {
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
// the one place that decides between retrying and giving up. x is what the
// call's transport recorded, or nil.
func classify(err error, x *providers.LastResponse) error {
	var (
		be     *bt.BraintreeError
		ae     bt.APIError
		ire    bt.InvalidResponseError
		status int
	)
	switch {
	case errors.As(err, &be):
		status = be.StatusCode()
	case errors.As(err, &ae):
		status = ae.StatusCode()
	case errors.As(err, &ire):
		status = ire.Response().StatusCode
	default:
		// Connection refused or reset, a timeout, a truncated or unreadable
		// body: nothing says the request was refused, so try again.
		return providers.TransportError(paysync.Braintree, err)
	}
	var header http.Header
	if x != nil {
		// braintree-go turns a bare 429 into an error without headers.
		header = x.Header
	}
	pe := providers.StatusError(paysync.Braintree, status, header, time.Now())
	pe.Message = err.Error()
	if be != nil && be.ErrorMessage != "" {
		pe.Message = be.ErrorMessage
	}
	switch {
	case be != nil && (status == http.StatusUnprocessableEntity || status < 300):
		// Validation errors, also inside a 200 answer: Braintree's own
		// code, and the same request fails the same way again.
		pe.Code, pe.Retryable = firstCode(be), false
	case status == http.StatusForbidden:
		pe.Code = "authorization_error"
	case status == http.StatusNotFound:
		// Every call this adapter makes names a customer.
		pe.Code = paysync.CodeCustomerNotFound
	case status == http.StatusUpgradeRequired:
		pe.Code = "upgrade_required"
	case status == http.StatusTooManyRequests:
		pe.Code = "too_many_requests"
	case status == http.StatusGatewayTimeout:
		pe.Code = "timeout"
	case status == http.StatusServiceUnavailable:
		// Braintree answers 503 while down for maintenance.
		pe.Code = "service_unavailable"
	case status < 400:
		// A status braintree-go did not expect for the call (a proxy in the
		// way?): retrying is safe, the customer id is ours.
		pe.Code, pe.Retryable = "unexpected_response", true
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
