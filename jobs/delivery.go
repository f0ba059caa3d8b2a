package jobs

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/paysync/paysync"
	"github.com/paysync/paysync/internal/egress"
	"github.com/paysync/paysync/internal/metrics"
)

// TypeDeliver sends one client webhook delivery.
const TypeDeliver = "webhook:deliver"

// NewDeliveryTask builds the task that sends the delivery id, tried at
// most maxRetry times more.
func NewDeliveryTask(id string, maxRetry int, o Options) *asynq.Task {
	return newIDTask(TypeDeliver, id, o, asynq.MaxRetry(maxRetry), asynq.Retention(o.Retention))
}

// Deliverer sends client webhooks signed as Lago signs them, so that an
// existing Lago webhook consumer verifies them unchanged.
type Deliverer struct {
	Deliveries paysync.DeliveryStore
	Endpoints  paysync.EndpointStore
	Client     *http.Client
	// Keys and Issuer sign JWT deliveries (Issuer: the iss claim, paysync's public URL).
	Keys   paysync.WebhookKeyStore
	Issuer string
}

// ProcessTask implements asynq.Handler for TypeDeliver.
func (d *Deliverer) ProcessTask(ctx context.Context, t *asynq.Task) error {
	id, err := parseID(t)
	if err != nil {
		return err
	}
	del, err := d.Deliveries.Delivery(ctx, id)
	if paysync.ErrorCode(err) == paysync.ENOTFOUND {
		return nil
	}
	if err != nil || del.DeliveredAt != nil {
		return err
	}
	// An endpoint the organization removed gets nothing more.
	e, err := d.Endpoints.WebhookEndpoint(ctx, del.OrganizationID, del.EndpointID)
	if paysync.ErrorCode(err) == paysync.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	sig, err := d.signature(ctx, e, del)
	if err != nil {
		return err
	}
	status, sendErr := d.send(ctx, del, sig)
	errText, result := "", "delivered"
	if sendErr != nil {
		errText, result = sendErr.Error(), "failed"
		if errors.Is(sendErr, egress.ErrRefused) {
			result = "refused" // the endpoint resolved to a forbidden address
		}
	}
	metrics.WebhookDeliveries.WithLabelValues(result).Inc()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := d.Deliveries.RecordDeliveryAttempt(rctx, id, status, errText, sendErr == nil); err != nil {
		return err
	}
	return sendErr
}

func (d *Deliverer) send(ctx context.Context, del *paysync.Delivery, sig signature) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, del.URL, strings.NewReader(string(del.Body)))
	if err != nil {
		return 0, fmt.Errorf("webhook url: %w: %w", err, asynq.SkipRetry)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "paysync")
	req.Header.Set("X-Lago-Signature", sig.value)
	req.Header.Set("X-Lago-Signature-Algorithm", sig.algo)
	req.Header.Set("X-Lago-Unique-Key", del.ID)
	resp, err := d.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("webhook endpoint unreachable: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("webhook endpoint answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// Sign is Lago's HMAC webhook signature: base64(HMAC-SHA256(key, body)).
func Sign(key string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// deliveryTimeout bounds one attempt at a client endpoint.
const deliveryTimeout = 10 * time.Second

// NewDeliveryClient is the HTTP client for client webhooks. It does not
// follow redirects: a signed body goes to the registered URL only; and it
// connects only to addresses policy allows, checked on each dial.
func NewDeliveryClient(policy egress.Policy) *http.Client {
	return &http.Client{Timeout: deliveryTimeout, Transport: policy.Transport(), CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}
