-- Lago's optional customer settings the clients type: the billing entity
-- code, the Salesforce id, whether invoice custom sections are skipped, and
-- the subscription invoice issuing date anchor and adjustment ('' inherits).
ALTER TABLE customers ADD COLUMN billing_entity_code TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN external_salesforce_id TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN skip_invoice_custom_sections BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE customers ADD COLUMN invoice_issuing_date_anchor TEXT NOT NULL DEFAULT '';
ALTER TABLE customers ADD COLUMN invoice_issuing_date_adjustment TEXT NOT NULL DEFAULT '';
