"""The customers service's rules, with no I/O: what each stored document holds
(`documents`), the customer itself (`customer`), addresses, order statistics, search queries,
the timeline, and password hashing."""
