"""One generator per departmental store; each fills a `StoreBuilder` from the true `World`. Each
department names its own as `synthesise` (`gateway/departments/`)."""
