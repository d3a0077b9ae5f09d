"""Single sign-on with OpenID Connect: authorization code with PKCE, signed ID tokens checked
against the provider's keys, roles from a group claim, just-in-time users, and sessions that
end when the provider's session ends."""
