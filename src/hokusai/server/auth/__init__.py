"""Authentication and authorisation of API requests (API keys and EIP-4361 wallet sign-in).

Modules: ``credentials`` (read the one credential from headers), ``sessions`` (the results pages' cookies),
``resolve`` (verify a credential against the database: ``verify_credential``),
``cache`` and ``authenticator`` (the per-process fast path with metrics, audit and rate limits).
"""
