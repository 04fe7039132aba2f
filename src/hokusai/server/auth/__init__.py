"""Authentication and authorisation of API requests (API keys and EIP-4361 wallet sign-in).

Modules: ``principal`` (who calls, scopes), ``api_keys`` (key format, hashing), ``siwe`` (EIP-4361
messages, signer recovery), ``credentials`` (read the one credential from headers), ``resolve``
(verify a credential against the database: ``resolve_principal(headers, session, settings)``),
``cache`` and ``authenticator`` (the per-process fast path with metrics, audit and rate limits).
"""
