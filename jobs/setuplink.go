package jobs

import (
	"context"
	"fmt"
	"strings"

	"github.com/hibiken/asynq"

	"github.com/paysync/paysync"
)

// TypeSetupLink generates a setup link for a freshly created provider customer.
const TypeSetupLink = "customer:setup_link"

// NewSetupLinkTask builds the setup-link task of one link generation; its
// payload id is "link id:generation".
func NewSetupLinkTask(ref paysync.LinkRef, o Options) *asynq.Task {
	return newIDTask(TypeSetupLink, fmt.Sprintf("%s:%d", ref.ID, ref.Generation), o, asynq.MaxRetry(o.MaxRetry))
}

// SetupLinks generates the setup link of a freshly created provider
// customer when its connection asks for it.
type SetupLinks struct {
	Store   paysync.Store
	Service *paysync.Service
}

// ProcessTask implements asynq.Handler for TypeSetupLink.
func (s *SetupLinks) ProcessTask(ctx context.Context, t *asynq.Task) error {
	id, err := parseID(t)
	if err != nil {
		return err
	}
	linkID, _, _ := strings.Cut(id, ":")
	c, err := s.Store.LinkCustomer(ctx, linkID)
	if paysync.ErrorCode(err) == paysync.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	_, _, err = s.Service.CheckoutURL(ctx, c.OrganizationID, c.ExternalID)
	switch paysync.ErrorCode(err) {
	case "":
		return nil
	case paysync.EUNAVAILABLE, paysync.EINTERNAL:
		return err
	default:
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
}
