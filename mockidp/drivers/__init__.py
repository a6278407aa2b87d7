"""Drivers: what changes a provider from outside its endpoints — scenarios, the config file,
``RemoteIdP`` and the consumer audit — all written against the declared control surface."""
