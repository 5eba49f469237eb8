"""Alert rules (pure) and webhook delivery."""
