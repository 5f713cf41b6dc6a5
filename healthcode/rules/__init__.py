"""Rules: a safe CertLogic evaluator, versioned rule data, and the colour engine."""
