"""Who is calling: the caller's credentials (parsed once per request, verified once), the client address behind
trusted proxies, and the route dependencies that resolve them to an account (`CurrentUser`, `AdminUser`,
`Authorized(scope)`, `Principal`). It owns no table: accounts are the users feature's, keys the api_keys feature's."""
