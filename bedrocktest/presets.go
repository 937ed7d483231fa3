package bedrocktest

// unknownTokensPerMinute is the TPM a model gets in a scope whose default the catalog
// does not know: 200,000, the smallest documented cross-region default of the Claude 4
// models in Service Quotas.
const unknownTokensPerMinute = 200_000
