"""The consultants' and supervisors' web console of the 19524 hotline (aiohttp, server-rendered, Polish)."""
