"""The audience: sources, addresses, contacts, lists, suppressions and the compile step."""
