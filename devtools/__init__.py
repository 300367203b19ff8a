"""Development tools: the Asterisk sandbox (a real Asterisk 22 in a Debian-unstable root) and the synthetic
caller that places real SIP test calls into it."""
