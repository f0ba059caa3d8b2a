package api

import (
	"time"

	"github.com/paysync/paysync"
)

// Values Flexprice's CustomerResponse carries that paysync has no notion of.
const (
	// flexpriceStatus: paysync deletes customers rather than archiving
	// them, so every customer it answers is published.
	flexpriceStatus = "published"
	// flexpriceActor is created_by and updated_by: Flexprice writes the
	// user behind the API key there; paysync's keys belong to no user.
	flexpriceActor = "api_key"
	// flexpriceTimezone is Flexprice's default when none is set.
	flexpriceTimezone = "UTC"
)

// flexpriceEnvironment is the environment_id of an organization's
// customers: paysync has one environment per organization, so it is
// derived from the organization id with Flexprice's "env_" prefix.
func flexpriceEnvironment(orgID string) string { return "env_" + orgID }

// flexpriceCustomerJSON is Flexprice's dto.CustomerResponse (the
// customer.Customer model with its BaseModel), keys in the peer's order,
// plus parent_customer_id and parent_customer, which @flexprice/sdk 2.0.1's
// response model declares and requires to be present (its zod 4 schema
// refuses a missing key): paysync has no customer hierarchy, so both are
// always null.
type flexpriceCustomerJSON struct {
	ID                string                 `json:"id"`
	ExternalID        string                 `json:"external_id"`
	Name              string                 `json:"name"`
	Email             string                 `json:"email"`
	Contact           string                 `json:"contact,omitempty"`
	AddressLine1      string                 `json:"address_line1"`
	AddressLine2      string                 `json:"address_line2"`
	AddressCity       string                 `json:"address_city"`
	AddressState      string                 `json:"address_state"`
	AddressPostalCode string                 `json:"address_postal_code"`
	AddressCountry    string                 `json:"address_country"`
	Timezone          string                 `json:"timezone"`
	Metadata          map[string]string      `json:"metadata"`
	EnvironmentID     string                 `json:"environment_id"`
	TenantID          string                 `json:"tenant_id"`
	Status            string                 `json:"status"`
	CreatedAt         string                 `json:"created_at"`
	UpdatedAt         string                 `json:"updated_at"`
	CreatedBy         string                 `json:"created_by"`
	UpdatedBy         string                 `json:"updated_by"`
	ParentCustomerID  *string                `json:"parent_customer_id"`
	ParentCustomer    *flexpriceCustomerJSON `json:"parent_customer"`
}

// flexpriceTime is how Go's encoding/json writes the peer's timestamps:
// RFC 3339 with the fraction kept.
func flexpriceTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// flexpriceCustomerView renders a stored customer as Flexprice does.
func flexpriceCustomerView(c *paysync.Customer) flexpriceCustomerJSON {
	return flexpriceCustomerJSON{
		ID:                c.ID,
		ExternalID:        c.ExternalID,
		Name:              c.Name,
		Email:             c.Email,
		Contact:           c.Phone,
		AddressLine1:      c.BillingAddress.Line1,
		AddressLine2:      c.BillingAddress.Line2,
		AddressCity:       c.BillingAddress.City,
		AddressState:      c.BillingAddress.State,
		AddressPostalCode: c.BillingAddress.PostalCode,
		AddressCountry:    c.BillingAddress.Country,
		Timezone:          orDefault(c.Timezone, flexpriceTimezone),
		Metadata:          metadataMap(c.Metadata),
		EnvironmentID:     flexpriceEnvironment(c.OrganizationID),
		TenantID:          c.OrganizationID,
		Status:            flexpriceStatus,
		CreatedAt:         flexpriceTime(c.CreatedAt),
		UpdatedAt:         flexpriceTime(c.UpdatedAt),
		CreatedBy:         flexpriceActor,
		UpdatedBy:         flexpriceActor,
	}
}

// metadataMap is the customer's metadata as Flexprice's map; of repeated
// keys (Lago allows them) the last wins, as it would in a map.
func metadataMap(items []paysync.Metadata) map[string]string {
	out := make(map[string]string, len(items))
	for _, m := range items {
		out[m.Key] = m.Value
	}
	return out
}
