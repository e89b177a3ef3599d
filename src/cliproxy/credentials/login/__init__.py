"""Signing in to subscription accounts (OAuth code + PKCE with a local callback, and device
codes), writing the credential files CPA writes. One module per provider over a shared core;
every URL comes from :mod:`cliproxy.credentials.login.endpoints`."""
